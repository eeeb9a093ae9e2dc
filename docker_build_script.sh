#!/usr/bin/env bash
# Build hpo's images (the brief's build script):
#   ./docker_build_script.sh true     full build: pull the base images and rebuild every layer (also: full)
#   ./docker_build_script.sh quick    after code changes: the dependency layers come from the cache, only the
#                                     project's code layer is rebuilt (the Dockerfiles copy contracts/ and
#                                     services/ after installing the dependencies)
# Options: --push (push each image after building), --only NAME (service, trainer or trainer-gpu).
# Images: ${HPO_IMAGE_PREFIX}hpo-NAME:${HPO_IMAGE_TAG}, the tag defaulting to the version in pyproject.toml; the
# names docker-compose.yml and k8s/ use. DOCKER names the docker command (default: docker).
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  echo "usage: $0 true|full|quick [--push] [--only service|trainer|trainer-gpu]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in
  true | full) mode=full ;;
  quick) mode=quick ;;
  *) usage ;;
esac
shift
push=false
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push=true ;;
    --only)
      [ $# -ge 2 ] || usage
      only="$2"
      shift
      ;;
    *) usage ;;
  esac
  shift
done

docker_command="${DOCKER:-docker}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
tag="${HPO_IMAGE_TAG:-$version}"
prefix="${HPO_IMAGE_PREFIX:-}"
images=(service trainer trainer-gpu)
if [ -n "$only" ]; then
  case " ${images[*]} " in
    *" $only "*) images=("$only") ;;
    *)
      echo "error: --only $only: no deploy/docker/$only.Dockerfile (service, trainer or trainer-gpu)" >&2
      exit 2
      ;;
  esac
fi

for name in "${images[@]}"; do
  image="${prefix}hpo-${name}:${tag}"
  if [ "$mode" = full ]; then
    flags=(--pull --no-cache)
  else
    flags=()
  fi
  echo "building ${image} (${mode}) from deploy/docker/${name}.Dockerfile"
  "$docker_command" build "${flags[@]}" --target runtime --file "deploy/docker/${name}.Dockerfile" --tag "$image" .
  if [ "$push" = true ]; then
    "$docker_command" push "$image"
  fi
done
