"""`fuzz_target`: one libFuzzer target and its seed corpus as a regression test.

For a target NAME with sources SRCS (defining LLVMFuzzerTestOneInput):
  - NAME: a binary. Under `--config=fuzz` (Debian's clang, -fsanitize=fuzzer,address,
    undefined) it is a libFuzzer binary; otherwise it runs the files named on its command
    line once each (regression_main.cc), so it builds with GCC like everything else.
  - NAME_regression: a test that runs every file of corpus/NAME/ through the target under
    plain `bazel test //...` (no clang needed): each crash found and fixed stays fixed.
"""

def fuzz_target(name, srcs, deps = [], local_defines = []):
    native.cc_binary(
        name = name,
        srcs = srcs,
        local_defines = local_defines,
        deps = deps + select({
            ":fuzzing": [],
            "//conditions:default": [":regression_main"],
        }),
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer,address,undefined"],
            "//conditions:default": [],
        }),
    )
    native.cc_test(
        name = name + "_regression",
        size = "small",
        srcs = srcs,
        local_defines = local_defines,
        deps = deps + [":regression_main"],
        args = ["fuzz/corpus/" + name],
        data = native.glob(["corpus/%s/*" % name]),
    )
