"""`raftkv_benchmark`: a Google Benchmark binary plus a test that runs it once, tiny.

    raftkv_benchmark(name = "fsync_benchmark", srcs = [...], deps = [...])

makes `:fsync_benchmark` for `bazel run //benchmarks:fsync_benchmark` (the real measurement)
and `:fsync_benchmark_smoke`, a test that runs every benchmark in it for a moment so that
`bazel test //...` proves the suite still builds and runs. Tests never assert timings.
"""

def raftkv_benchmark(name, srcs, deps = [], smoke_args = [], args = [], data = [],
                     custom_main = False, **kwargs):
    """`args`/`data` go to the binary (and `bazel run`); `smoke_args` only to the smoke test.

    With custom_main, the sources define main() themselves.
    """
    native.cc_binary(
        name = name,
        srcs = srcs,
        args = args,
        data = data,
        deps = deps + ["@com_github_google_benchmark//:benchmark" if custom_main else "@com_github_google_benchmark//:benchmark_main"],
        **kwargs
    )
    native.sh_test(
        name = name + "_smoke",
        size = "small" if not data else "medium",
        srcs = ["//benchmarks:run_once.sh"],
        args = ["$(rootpath :%s)" % name] + args + smoke_args,
        data = [":" + name] + data,
    )
