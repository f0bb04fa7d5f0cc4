#!/usr/bin/env bats
# Data-parallel train under Open MPI's mpirun, on the CPU: one model from several processes,
# the same as one process's with --sync-bn; a rank that dies or refuses its data stops them all.

load helpers/common
bats_require_minimum_version 1.5.0

setup_file() {
    load helpers/common
    small_train_val "$BATS_FILE_TMPDIR"
}

setup() {
    command -v mpirun > /dev/null || skip "Open MPI is not installed (make deps)"
    # Open MPI refuses root unless told (containers, CI); --oversubscribe: 2 ranks on any machine
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    MPIRUN="mpirun --oversubscribe"
    O="--device cpu --quiet --val $BATS_FILE_TMPDIR/val.jsonl"
}

# The tensors of a safetensors file, without its header (whose metadata names the processes).
tensors() { local hl; hl=$(od -An -tu8 -N8 "$1" | tr -d ' '); tail -c +$((9 + hl)) "$1"; }

@test "mpirun -np 2 --sync-bn: the same weights, bit for bit, as one process of 2 threads with the same global batch" {
    t="$BATS_TEST_TMPDIR"
    # 48 images in global batches of 10: four of 10 and a last one of 8 (4 per process);
    # --nominal-batch 20 accumulates two batches' gradients per step
    for e in "10 5" "16 8"; do
        set -- $e
        OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 2 --batch "$1" --nominal-batch 20 --out "$t/one.safetensors" \
            < "$BATS_FILE_TMPDIR/train.jsonl" > "$t/one.log"
        OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" $O --sync-bn --epochs 2 --batch "$2" --nominal-batch 20 --out "$t/two.safetensors" \
            < "$BATS_FILE_TMPDIR/train.jsonl" > "$t/two.log"
        cmp "$t/one.safetensors.ckpt" "$t/two.safetensors.ckpt"
        cmp <(tensors "$t/one.safetensors") <(tensors "$t/two.safetensors")
        # one log, from rank 0: the same losses and validation scores
        [ "$(wc -l < "$t/two.log")" -eq 2 ]
        diff <(jq -c 'del(.images_per_s)' "$t/one.log") <(jq -c 'del(.images_per_s)' "$t/two.log")
    done
    # the model file says how it was trained
    hl=$(od -An -tu8 -N8 "$t/two.safetensors" | tr -d ' ')
    head -c $((8 + hl)) "$t/two.safetensors" | tail -c "$hl" | jq -e '.__metadata__.train_args | fromjson | .processes == 2 and .sync_bn == true and .batch == 16' > /dev/null
}

@test "mpirun -np 2 without --sync-bn: repeatable, and its loss stays near one process's" {
    t="$BATS_TEST_TMPDIR"
    OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 3 --batch 16 --out "$t/one.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > "$t/one.log"
    for r in a b; do
        OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" $O --epochs 3 --batch 8 --out "$t/$r.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > "$t/$r.log"
    done
    cmp "$t/a.safetensors.ckpt" "$t/b.safetensors.ckpt"
    # batch norm over 8 images instead of 16: close, not equal
    ! cmp -s "$t/one.safetensors.ckpt" "$t/a.safetensors.ckpt"
    paste -d' ' <(jq .loss "$t/one.log") <(jq .loss "$t/a.log") | awk '{ r = $2 / $1; if (r < 0.95 || r > 1.05) { print "epoch " NR ": " $1 " vs " $2; bad = 1 } } END { exit bad }'
}

@test "a rank killed by a signal ends the job within seconds; the checkpoint loads and --resume finishes as an unbroken run" {
    t="$BATS_TEST_TMPDIR"
    # 30 epochs (about 8 s here): the job is killed after its first checkpoint, long before its end
    run_args=($O --epochs 30 --batch 8 --out "$t/k.safetensors")
    OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" "${run_args[@]}" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null 2> "$t/k.err" &
    mp=$!
    for _ in $(seq 600); do [ -e "$t/k.safetensors.ckpt" ] && break; sleep 0.1; done
    [ -e "$t/k.safetensors.ckpt" ]
    victim=
    for p in $(pgrep -P "$mp"); do
        tr '\0' '\n' < "/proc/$p/environ" | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
    done
    [ -n "$victim" ]
    kill -KILL "$victim"
    start=$SECONDS
    # every process ends: mpirun itself within 20 s (it takes about 1 s), none left behind
    timeout 20 tail --pid="$mp" -f /dev/null
    status=0
    wait "$mp" || status=$?
    echo "mpirun: exit $status after $((SECONDS - start)) s"; cat "$t/k.err"
    [ "$status" -ne 0 ]
    grep -q "rank 1" "$t/k.err"
    ! pgrep -f "$t/k.safetensors" > /dev/null
    # the checkpoint loads: --resume finishes, with the weights of a run never killed
    OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" "${run_args[@]}" --resume < "$BATS_FILE_TMPDIR/train.jsonl" > "$t/resumed.log"
    [ "$(jq -s 'last.epoch' "$t/resumed.log")" = 30 ]
    [ "$(jq -s 'first.epoch' "$t/resumed.log")" -gt 1 ]
    OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" $O --epochs 30 --batch 8 --out "$t/whole.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    cmp "$t/k.safetensors.ckpt" "$t/whole.safetensors.ckpt"
    assert_no_temp_files "$t"
}

@test "a bad record in one rank's block stops every rank, naming the rank and the record's line; nothing is written" {
    t="$BATS_TEST_TMPDIR"
    # the last record (line 49) is in rank 1's block of images; its image does not exist
    { cat "$BATS_FILE_TMPDIR/train.jsonl"; tail -n1 "$BATS_FILE_TMPDIR/train.jsonl" | jq -c '.id = "bad" | .image = "img/missing.png"'; } > "$t/bad.jsonl"
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$BIN/train" $O --epochs 1 --batch 8 --out "$t/m.safetensors" < "$t/bad.jsonl"
    echo "$stderr"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"train (rank 1 of 2): stdin: line 49: cannot open img/missing.png"* ]]
    [[ "$stderr" == *"rank 1 of 2"*"stopping every rank"* ]]
    [ ! -e "$t/m.safetensors" ] && [ ! -e "$t/m.safetensors.ckpt" ]
    assert_no_temp_files "$t"
}

@test "malformed input under mpirun: every rank refuses it with the line, and the job ends" {
    t="$BATS_TEST_TMPDIR"
    { head -n3 "$BATS_FILE_TMPDIR/train.jsonl"; echo '{"id": "x", '; } > "$t/broken.jsonl"
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$BIN/train" $O --epochs 1 --batch 8 --out "$t/m.safetensors" < "$t/broken.jsonl"
    echo "$stderr"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"stdin: line 4"* ]]
    [ ! -e "$t/m.safetensors" ]
    # empty input
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$BIN/train" $O --epochs 1 --batch 8 --out "$t/m.safetensors" < /dev/null
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"stdin: no records"* ]]
}

@test "--resume with another number of processes: a checkpoint of one process continues on two" {
    t="$BATS_TEST_TMPDIR"
    OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 1 --batch 16 --out "$t/m.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" $O --resume --epochs 2 --batch 8 --out "$t/m.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > "$t/r.log"
    [ "$(jq -c .epoch "$t/r.log")" = 2 ]
    # and with --sync-bn it is the single process's second epoch, bit for bit
    OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 2 --batch 16 --out "$t/one.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 1 --batch 16 --out "$t/s.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN/train" $O --sync-bn --resume --epochs 2 --batch 8 --out "$t/s.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    cmp "$t/one.safetensors.ckpt" "$t/s.safetensors.ckpt"
}

@test "--resume: rank 0 reads the checkpoint and gives it to the others, which need not see it" {
    t="$BATS_TEST_TMPDIR"
    mkdir "$t/a" "$t/b"
    OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 2 --batch 16 --out "$t/one.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    OMP_NUM_THREADS=2 "$BIN/train" $O --epochs 1 --batch 16 --out "$t/a/m.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    # rank 0 works in a/, which has the checkpoint; rank 1 in b/, which has none
    run timeout 60 env OMP_NUM_THREADS=1 $MPIRUN -np 1 -wdir "$t/a" "$BIN/train" $O --sync-bn --resume --epochs 2 --batch 8 --out m.safetensors \
        : -np 1 -wdir "$t/b" "$BIN/train" $O --sync-bn --resume --epochs 2 --batch 8 --out m.safetensors < "$BATS_FILE_TMPDIR/train.jsonl"
    echo "$output"
    [ "$status" -eq 0 ]
    cmp "$t/one.safetensors.ckpt" "$t/a/m.safetensors.ckpt"
    [ -z "$(ls "$t/b")" ]
}

@test "more processes than training images is refused" {
    head -n1 "$BATS_FILE_TMPDIR/train.jsonl" > "$BATS_TEST_TMPDIR/one.jsonl"
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$BIN/train" $O --epochs 1 --out "$BATS_TEST_TMPDIR/m.safetensors" < "$BATS_TEST_TMPDIR/one.jsonl"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"1 training images for 2 processes"* ]]
}

@test "LAUNCH puts the launcher in front of each train step of the pipeline, and of nothing else" {
    r="$BATS_TEST_TMPDIR/run"
    opts=(RUN="$r" TRAIN_N=40 VAL_N=16 TEST_N=16 EPOCHS=1 IMG=64 BOOT=20 DEVICE=cpu METHODS="baseline wbf-earl")
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" LAUNCH="$MPIRUN -np 2" scores
    [ "$status" -eq 0 ]
    [ "$(grep -c 'bin/train' <<< "$output")" -eq 2 ] && [ "$(grep -c "^$MPIRUN -np 2 bin/train" <<< "$output")" -eq 2 ]
    # (and in the models' argument stamps, which retrain them when LAUNCH changes)
    [ "$(grep mpirun <<< "$output" | grep -vc "printf '%s")" -eq 2 ]
    OMP_NUM_THREADS=1 run make -s -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" LAUNCH="$MPIRUN -np 2" scores
    echo "$output"
    [ "$status" -eq 0 ]
    for m in baseline wbf-earl; do
        f="$r/models/$m.safetensors"
        hl=$(od -An -tu8 -N8 "$f" | tr -d ' ')
        head -c $((8 + hl)) "$f" | tail -c "$hl" | jq -e '.__metadata__.train_args | fromjson | .processes == 2' > /dev/null
        jq -e '.map40 >= 0' "$r/test.$m.score.json" > /dev/null
    done
    # without LAUNCH the models are trained again, by one process
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" scores
    [ "$(grep -c '^bin/train' <<< "$output")" -eq 2 ] && [[ "$output" != *mpirun* ]]
}

@test "a build without MPI refuses to run under a launcher, and says what to install" {
    nompi="$ROOT/build/rel-cpu-nompi/bin/train"   # CI builds it (make CUDA=0 MPI=0)
    [ -x "$nompi" ] || skip "no build without MPI here (make CUDA=0 MPI=0)"
    ! ldd "$nompi" | grep -q libmpi
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$nompi" $O --epochs 1 --out "$BATS_TEST_TMPDIR/m.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"train: started by a launcher (mpirun, srun), but this build has no MPI: install libopenmpi-dev and rebuild"* ]]
    # alone it trains as ever
    "$nompi" $O --epochs 1 --batch 16 --out "$BATS_TEST_TMPDIR/m.safetensors" < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
}

@test "under mpirun, rank 0 alone shows --help and a usage error; the job exits 0 and 2" {
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$BIN/train" --help
    [ "$status" -eq 0 ]
    [ "$(grep -c '^Usage: train' <<< "$output")" -eq 1 ] && [[ "$output" == *"--sync-bn"* ]]
    run --separate-stderr timeout 60 $MPIRUN -np 2 "$BIN/train" --val "$BATS_FILE_TMPDIR/val.jsonl" < "$BATS_FILE_TMPDIR/train.jsonl"
    [ "$status" -eq 2 ]
    [ "$(grep -c 'train: --out FILE is required' <<< "$stderr")" -eq 1 ]
}
