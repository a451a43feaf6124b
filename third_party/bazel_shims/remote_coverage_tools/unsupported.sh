#!/bin/sh
echo "raftkv: 'bazel coverage' needs Bazel's remote_coverage_tools, which cannot be downloaded offline; use 'bazel test'." >&2
exit 1
