"""`kv_cluster_test`: a test against a real kvnode cluster.

    kv_cluster_test(name = "failover_test", srcs = ["failover_test.cc"])

builds a cc_test linked with //testing/cluster:harness, which starts real `kvnode serve`
processes (the //cli:kvnode binary, passed as --kvnode=PATH) on free loopback ports with
data under TEST_TMPDIR, and kills every process it started when the test ends.
"""

def kv_cluster_test(name, srcs, deps = [], size = "medium", **kwargs):
    native.cc_test(
        name = name,
        srcs = srcs,
        size = size,
        args = ["--kvnode=$(rootpath //cli:kvnode)"],
        data = ["//cli:kvnode"] + kwargs.pop("data", []),
        deps = deps + [
            "//testing/cluster:harness",
            "//testing/cluster:harness_main",
            "@com_google_googletest//:gtest",
        ],
        **kwargs
    )
