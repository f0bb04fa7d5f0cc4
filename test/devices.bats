#!/usr/bin/env bats
# devices: which compute device train and predict will use.

load helpers/common

@test "devices --help prints usage" {
    run "$BIN/devices" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "devices names a GPU or says the CPU will be used" {
    run "$BIN/devices"
    [ "$status" -eq 0 ]
    [[ "$output" == "gpu: "* || "$output" == "cpu: no GPU found"*"; using the CPU" ]]
}

@test "devices --require fails exactly when there is no GPU" {
    run "$BIN/devices" --require
    if [[ "$output" == cpu:* ]]; then [ "$status" -eq 1 ]; else [ "$status" -eq 0 ]; fi
}

@test "devices rejects unknown options with exit 2" {
    run "$BIN/devices" --bogus
    [ "$status" -eq 2 ]
}
