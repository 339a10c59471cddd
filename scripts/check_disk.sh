#!/usr/bin/env bash
# Refuse to start the install when the disk cannot hold it, instead of failing halfway
# with pip's "No space left on device". Usage: check_disk.sh FOLDER GIB
set -u
folder=$1; need_gib=$2
free_kib=$(df -Pk "$folder" | awk 'NR == 2 {print $4}')
if [ "$free_kib" -lt $((need_gib * 1024 * 1024)) ]; then
  echo "sarl_hf: the install needs about ${need_gib} GiB free in $(cd "$folder" && pwd)" \
       "(PyTorch's CUDA build alone is 7 GB); $((free_kib / 1024 / 1024)) GiB are free" >&2
  exit 1
fi
