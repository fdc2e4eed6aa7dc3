#!/usr/bin/env bash
# Runs every fuzz target under AFL++ for FUZZ_SECONDS each (see README.md).
#   FUZZ_SECONDS  time per target (default 60)
#   FUZZ_TARGETS  targets to run (default: all)
#   FUZZ_VECTORS  the C transcripts the corpora are seeded from
#                 (default: ../shared/vectors beside the repository)
# Exit status 1 when a target found a crash or a hang (kept in
# fuzz/findings/TARGET/), 2 when the tools are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$here"

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v -e '^flom-fuzz$' -e '^seeds$' | tr '\n' ' ')}
FUZZ_VECTORS=${FUZZ_VECTORS:-$repo/../shared/vectors}
AFL_FUZZ=${AFL_FUZZ:-$(command -v afl-fuzz || true)}
AFL_RT=${AFL_RT:-/usr/lib/afl/afl-compiler-rt.o}

if [ -z "$AFL_FUZZ" ] || [ ! -f "$AFL_RT" ]; then
    echo "fuzz: AFL++ is not installed (need afl-fuzz and $AFL_RT): apt-get install afl++" >&2
    exit 2
fi

# The flags `cargo afl build` passes, with the runtime of the installed
# AFL++ (so afl-fuzz and the instrumented binary speak the same version).
export CARGO_TARGET_DIR="$here/target"
export RUSTFLAGS="-C debug-assertions -C overflow_checks -C codegen-units=1 -C opt-level=3 \
-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=3 \
-C llvm-args=-sanitizer-coverage-trace-pc-guard -C llvm-args=-sanitizer-coverage-prune-blocks=0 \
-C llvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -C link-arg=$AFL_RT"
cargo build --release --quiet --bins
bin="$CARGO_TARGET_DIR/release"

# Corpora: the seeds from the transcripts plus what earlier runs kept.
mkdir -p corpus findings out
if [ -d "$FUZZ_VECTORS" ]; then
    "$bin/seeds" "$FUZZ_VECTORS" corpus "$repo"
else
    echo "fuzz: no transcripts at $FUZZ_VECTORS (set FUZZ_VECTORS); using the committed inputs only" >&2
fi
for t in $FUZZ_TARGETS; do
    mkdir -p "corpus/$t"
    [ -d "regressions/$t" ] && cp -n regressions/"$t"/* "corpus/$t/" 2>/dev/null || true
    if [ -z "$(ls -A "corpus/$t")" ]; then printf 'seed' > "corpus/$t/empty"; fi
done

# afl-fuzz on a shared machine: no CPU binding, no UI, no core_pattern demand.
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_SKIP_CRASHES=1 AFL_QUIET=1

status=0
summary=()
for t in $FUZZ_TARGETS; do
    out="out/$t"
    rm -rf "$out"
    echo "fuzz: $t for ${FUZZ_SECONDS}s"
    timeout --kill-after=10 $((FUZZ_SECONDS + 60)) \
        "$AFL_FUZZ" -V "$FUZZ_SECONDS" -t 1000 -m none -i "corpus/$t" -o "$out" -- "$bin/$t" \
        > "out/$t.log" 2>&1 || { echo "fuzz: afl-fuzz failed on $t (see fuzz/out/$t.log):" >&2; tail -20 "out/$t.log" >&2; status=1; continue; }
    stats="$out/default/fuzzer_stats"
    get() { sed -n "s/^$1 *: *//p" "$stats"; }
    crashes=$(get saved_crashes); hangs=$(get saved_hangs)
    summary+=("$(printf '%-10s execs %-10s execs/s %-8s edges %s/%s map %-7s corpus %-5s crashes %s hangs %s' \
        "$t" "$(get execs_done)" "$(get execs_per_sec)" "$(get edges_found)" "$(get total_edges)" \
        "$(get bitmap_cvg)" "$(get corpus_count)" "$crashes" "$hangs")")
    # Keep the new inputs for the next run; keep findings for promotion to
    # regressions/ (a unit test replays each).
    for f in "$out"/default/queue/id:*; do
        [ -f "$f" ] || continue
        case "$f" in *,orig:*) continue ;; esac # a seed already in the corpus
        cp "$f" "corpus/$t/$(sha1sum < "$f" | cut -c1-16)"
    done
    if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
        mkdir -p "findings/$t"
        for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
            if [ -f "$f" ]; then cp "$f" "findings/$t/$(sha1sum < "$f" | cut -c1-16)"; fi
        done
        echo "fuzz: $t: $crashes crash(es), $hangs hang(s) kept in fuzz/findings/$t/" >&2
        status=1
    fi
done
printf '%s\n' "${summary[@]}"
exit $status
