"""`cc_capnp_library`: one Cap'n Proto schema target, compiled to C++ by the system `capnp`.

    cc_capnp_library(
        name = "raft_capnp",
        srcs = ["raft.capnp"],
        deps = ["//net:common_capnp"],   # other cc_capnp_library targets it imports
    )

makes `:raft_capnp`, a `cc_library` whose header is `net/raft.capnp.h`, and
`:raft_capnp_schemas`, the schema files themselves plus those of `deps`, so that a schema
can `import "/net/common.capnp"` (rooted at the workspace) or `import "common.capnp"`
(beside it). capnp writes an absolute import as `#include <net/common.capnp.h>`; the rule
rewrites those to quoted includes, which Bazel resolves against the output root (Bazel
refuses to put the workspace root itself on the angled include path). Cap'n Proto's own schemas
(`/capnp/c++.capnp`, ...) come from /usr/include, capnp's standard import path.
"""

def _schemas_label(dep):
    if ":" not in dep:
        fail("cc_capnp_library deps need an explicit target name: %r" % dep)
    return dep + "_schemas"

def cc_capnp_library(name, srcs, deps = [], visibility = None, testonly = False):
    dep_schemas = [_schemas_label(d) for d in deps]
    native.filegroup(
        name = name + "_schemas",
        srcs = srcs + dep_schemas,
        visibility = visibility,
        testonly = testonly,
    )

    package = native.package_name()
    outs_h = [s + ".h" for s in srcs]
    outs_cc = [s + ".c++" for s in srcs]
    sources = " ".join(["%s/%s" % (package, s) if package else s for s in srcs])
    native.genrule(
        name = name + "_codegen",
        srcs = srcs + dep_schemas,
        outs = outs_h + outs_cc,
        tools = [
            "@capnproto//:capnp_tool",
            "@capnproto//:capnpc_cxx",
        ],
        # Run from the execution root so that "/pkg/x.capnp" imports resolve against
        # the workspace, and emit into the output root under the same paths.
        cmd = ("$(execpath @capnproto//:capnp_tool) compile -I. --src-prefix=. " +
               "-o$(execpath @capnproto//:capnpc_cxx):$(GENDIR) " + sources +
               " && sed -i -E 's|^#include <(.*[.]capnp[.]h)>$$|#include \"\\1\"|' $(OUTS)"),
        message = "Compiling Cap'n Proto schema %s" % sources,
        testonly = testonly,
        visibility = ["//visibility:private"],
    )

    native.cc_library(
        name = name,
        srcs = outs_cc,
        hdrs = outs_h,
        # Generated code for interfaces refers to capnp::Capability, which lives in the
        # RPC library; every schema links it so interface-only users need nothing else.
        deps = deps + [
            "@capnproto//:capnp",
            "@capnproto//:capnp_rpc",
            "@capnproto//:kj",
        ],
        visibility = visibility,
        testonly = testonly,
    )
