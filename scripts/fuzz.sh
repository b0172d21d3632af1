#!/usr/bin/env bash
# Coverage-guided fuzzing with AFL++ through cargo-afl (works on stable Rust).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the targets in fuzz/ (installing cargo-afl and AFL++ when missing),
# then runs each TARGET (default: all) for SECONDS (default 30), one after the
# other, starting from its committed corpus in fuzz/corpus/<target>, which it
# only reads. Prints one line per target; exits non-zero on any crash or hang.
# Everything a run finds is in fuzz/out/<target>/default/ (queue, crashes, hangs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(receipt token request_auth api enrolment)

# cargo-afl must match the `afl` crate in fuzz/Cargo.lock. `config --build`
# compiles AFL++ from the source the crate ships (make and a C compiler only).
afl_version=0.18.2
if ! cargo afl --version 2>/dev/null | grep -q "^cargo-afl $afl_version "; then
  cargo install cargo-afl --version "$afl_version" --locked --quiet
fi
if ! out=$(cargo afl config --build 2>&1); then
  grep -q "already built" <<<"$out" || { echo "$out" >&2; exit 1; }
fi

# With --target, build scripts and proc macros are built without the
# instrumentation flags (and quickly, see fuzz/Cargo.toml).
host=$(rustc -vV | sed -n 's/^host: //p')
nice -n 19 cargo afl build --release --locked --quiet --target "$host"
bin=$root/fuzz/target/$host/release

# These machines give no control over core_pattern or the CPU governor, and
# other work shares the cores; no terminal for the status screen.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
  AFL_NO_AFFINITY=1 AFL_FAST_CAL=1

stat() { sed -n "s/^$1 *: *//p" "$2"; }
failed=0
for target in "${targets[@]}"; do
  [ -x "$bin/$target" ] || { echo "no fuzz target named $target" >&2; exit 2; }
  out=$root/fuzz/out/$target
  rm -rf "$out"
  mkdir -p "$out"
  # -t: an input that runs longer than 2 s counts as a hang.
  if ! nice -n 19 cargo afl fuzz -i corpus/"$target" -o "$out" -V "$seconds" -t 2000 \
    -- "$bin/$target" >"$out/fuzz.log" 2>&1; then
    echo "$target: afl-fuzz failed, see $out/fuzz.log:" >&2
    tail -n 20 "$out/fuzz.log" >&2
    failed=1
    continue
  fi
  stats=$out/default/fuzzer_stats
  crashes=$(stat saved_crashes "$stats")
  hangs=$(stat saved_hangs "$stats")
  files=$(find "$out/default/queue" -maxdepth 1 -type f | wc -l)
  bytes=$(find "$out/default/queue" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  printf '%s: %s execs (%s/s), corpus %s files, %s bytes, %s crashes, %s hangs\n' \
    "$target" "$(stat execs_done "$stats")" "$(stat execs_per_sec "$stats")" \
    "$files" "$bytes" "$crashes" "$hangs"
  if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
    echo "  reproduce: $bin/$target < $out/default/crashes/<file> (or hangs/)" >&2
    failed=1
  fi
done
exit "$failed"
