"""Offline stand-in for @rules_java//java:defs.bzl: re-exports Bazel 4.2.3's native Java rules.

Bazel's own tools (tools/jdk) load these names from @rules_java; without this shim every
build tries to download rules_java. raftkv itself has no Java. See
third_party/bazel_shims/README.md.
"""

java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_proto_library = native.java_proto_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain
