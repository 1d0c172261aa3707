#!/bin/bash
# A stand-in for the Google Cloud CLI that answers the commands `parley deploy` runs the way the real gcloud does
# (docs in /work/shared/reference/cloud-run.md: stdout holds only the --format'ed result, progress and errors go
# to stderr, errors read "ERROR: (gcloud.command.path) message", exit 2 for argument errors, 1 for the rest).
# Where it could be checked offline, against Google Cloud SDK 528.0.0 with no account, it says what that said
# (the empty `auth list` with its filter warning, argument errors). It records every call, one line each with
# the arguments separated by \x1f, in $FAKE_GCLOUD_STATE/calls.
#
# The cloud it pretends to be is the directory $FAKE_GCLOUD_STATE:
#   account                 the active account (absent: not logged in)
#   projects/ID             a reachable project; holds its number
#   apis                    enabled APIs, one per line
#   repositories/NAME       an Artifact Registry repository
#   secrets/NAME            a Secret Manager secret
#   service/traffic         the service exists; lines "REVISION PERCENT TAG" (TAG "-" for none)
#   service/revisions       lines "REVISION READY-STATUS"
#   service/generation      the last revision number
#   deploy-error            gcloud run deploy fails with this message (deploy-error-extra: lines printed after it)
#   revision-ready          the Ready status a new revision reports (default True)
#   traffic-error           gcloud run services update-traffic fails with this message
set -u
state=${FAKE_GCLOUD_STATE:?FAKE_GCLOUD_STATE is not set}
( IFS=$'\x1f'; printf '%s\n' "$*" ) >>"$state/calls"

fail() { # command-path exit-code message [extra lines...]
  local path=$1 code=$2 message=$3
  shift 3
  printf 'ERROR: (%s) %s\n' "$path" "$message" >&2
  for line in "$@"; do printf '%s\n' "$line" >&2; done
  exit "$code"
}

usage_error() { # command-path message
  printf 'ERROR: (%s) %s \n\nTo search the help text of gcloud commands, run:\n  gcloud help -- SEARCH_TERMS\n' "$1" "$2" >&2
  exit 2
}

# Parses "--flag value" / "--flag=value" into flags[name]=value (switches get "true"), positionals into args[].
declare -A flags=()
args=()
value_flags=" --project --region --platform --format --filter --location --image --port --memory --cpu --timeout --concurrency --min-instances --max-instances --execution-environment --set-env-vars --set-secrets --startup-probe --liveness-probe --service-account --labels --tag --to-revisions --to-tags --remove-tags --update-tags --secret --ingress --revision-suffix "
parse() {
  while [ $# -gt 0 ]; do
    case $1 in
      --*=*) flags[${1%%=*}]=${1#*=} ;;
      --*)
        if [[ $value_flags == *" $1 "* ]]; then
          [ $# -ge 2 ] || usage_error "$cmd_path" "argument $1: expected one argument"
          flags[$1]=$2
          shift
        else
          flags[$1]=true
        fi
        ;;
      *) args+=("$1") ;;
    esac
    shift
  done
}

require_known() { # allowed flags...
  local flag allowed=" $* --project --quiet -q --format --verbosity "
  for flag in "${!flags[@]}"; do
    [[ $allowed == *" $flag "* ]] || usage_error "$cmd_path" "unrecognized arguments: $flag"
  done
}

account() { cat "$state/account" 2>/dev/null; }
number() { cat "$state/projects/${flags[--project]:-}" 2>/dev/null || echo 000000000000; }
service_host() { printf '%s-abc123xyz-uc.a.run.app' "$1"; }

service_json() { # service
  local service=$1 rev percent tag first=true url latest_created latest_ready
  url="https://$(service_host "$service")"
  latest_created=$(tail -n 1 "$state/service/revisions" | cut -d' ' -f1)
  latest_ready=$(awk '$2 == "True" { r = $1 } END { print r }' "$state/service/revisions")
  printf '{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"%s","namespace":"%s","annotations":{"run.googleapis.com/urls":"[\\"%s\\",\\"https://%s-%s.%s.run.app\\"]"}},' \
    "$service" "$(number)" "$url" "$service" "$(number)" "${flags[--region]:-us-central1}"
  printf '"status":{"url":"%s","address":{"url":"%s"},"latestCreatedRevisionName":"%s","latestReadyRevisionName":"%s","traffic":[' \
    "$url" "$url" "$latest_created" "$latest_ready"
  while read -r rev percent tag; do
    $first || printf ','
    first=false
    printf '{"revisionName":"%s","percent":%s' "$rev" "$percent"
    if [ "$tag" != - ]; then
      printf ',"tag":"%s","url":"https://%s---%s"' "$tag" "$tag" "$(service_host "$service")"
    fi
    printf '}'
  done <"$state/service/traffic"
  printf ']}}\n'
}

group="${1:-} ${2:-}"
case $group in
  "auth list")
    cmd_path=gcloud.auth.list
    shift 2
    parse "$@"
    require_known --filter
    if [ -s "$state/account" ]; then
      [ "${flags[--format]:-}" = 'value(account)' ] && account || printf 'Credentialed Accounts\nACTIVE  ACCOUNT\n*       %s\n' "$(account)"
    elif [ -n "${flags[--filter]:-}" ]; then
      printf 'WARNING: The following filter keys were not present in any resource : status\n' >&2
    else
      printf 'No credentialed accounts.\n\nTo login, run:\n  $ gcloud auth login `ACCOUNT`\n\n' >&2
    fi
    exit 0
    ;;
  "projects describe")
    cmd_path=gcloud.projects.describe
    shift 2
    parse "$@"
    require_known
    project=${args[0]:-}
    [ -s "$state/account" ] || fail "$cmd_path" 1 "You do not currently have an active account selected." "Please run:" "" "  \$ gcloud auth login"
    [ -f "$state/projects/$project" ] || fail "$cmd_path" 1 "[$(account)] does not have permission to access projects instance [$project] (or it may not exist): The caller does not have permission. This command is authenticated as $(account) which is the active account specified by the [core/account] property"
    if [ "${flags[--format]:-}" = 'value(projectNumber)' ]; then
      cat "$state/projects/$project"
    else
      printf 'projectId: %s\nprojectNumber: '"'"'%s'"'"'\n' "$project" "$(cat "$state/projects/$project")"
    fi
    exit 0
    ;;
  "services list")
    cmd_path=gcloud.services.list
    shift 2
    parse "$@"
    require_known --enabled --filter
    [ "${flags[--format]:-}" = 'value(config.name)' ] || fail "$cmd_path" 1 "the fake only answers --format=value(config.name)"
    [ ! -f "$state/apis" ] || cat "$state/apis"
    exit 0
    ;;
  "artifacts repositories")
    cmd_path=gcloud.artifacts.repositories.${3:-}
    [ "${3:-}" = describe ] || usage_error gcloud.artifacts.repositories "Invalid choice: '${3:-}'."
    shift 3
    parse "$@"
    require_known --location
    [ -f "$state/repositories/${args[0]:-}" ] || fail "$cmd_path" 1 "NOT_FOUND: Requested entity was not found."
    printf 'projects/%s/locations/%s/repositories/%s\n' "${flags[--project]:-}" "${flags[--location]:-}" "${args[0]}"
    exit 0
    ;;
  "secrets describe")
    cmd_path=gcloud.secrets.describe
    shift 2
    parse "$@"
    require_known
    name=${args[0]:-}
    [ -f "$state/secrets/$name" ] || fail "$cmd_path" 1 "NOT_FOUND: Secret [projects/$(number)/secrets/$name] not found or has no versions."
    printf 'projects/%s/secrets/%s\n' "$(number)" "$name"
    exit 0
    ;;
  "run services")
    sub=${3:-}
    cmd_path=gcloud.run.services.$sub
    shift 3
    parse "$@"
    service=${args[0]:-}
    case $sub in
      describe)
        require_known --region
        [ -f "$state/service/traffic" ] || fail "$cmd_path" 1 "Cannot find service [$service]"
        service_json "$service"
        exit 0
        ;;
      update-traffic)
        require_known --region --to-revisions --to-tags --to-latest --remove-tags --update-tags --set-tags --clear-tags --async
        [ -f "$state/service/traffic" ] || fail "$cmd_path" 1 "Cannot find service [$service]"
        [ -n "${flags[--to-revisions]:-}${flags[--to-tags]:-}${flags[--to-latest]:-}${flags[--remove-tags]:-}" ] \
          || fail "$cmd_path" 1 "No traffic configuration change requested."
        printf 'Updating traffic...\n' >&2
        if [ -f "$state/traffic-error" ]; then
          printf 'Updating traffic failed\n' >&2
          fail "$cmd_path" 1 "$(cat "$state/traffic-error")"
        fi
        target=${flags[--to-revisions]:-}
        rev=${target%=*}
        percent=${target#*=}
        awk -v rev="$rev" '$1 == rev' "$state/service/revisions" | grep -q . \
          || fail "$cmd_path" 1 "Revision '$rev' does not exist or is deleted. Update all traffic to route to currently available revisions."
        # Tags first, then the split: REV takes PERCENT; with 100 every other share goes to 0.
        removed=${flags[--remove-tags]:-}
        awk -v rev="$rev" -v percent="$percent" -v removed=",$removed," '
          { tag = $3; if (index(removed, "," tag ",") > 0) tag = "-" }
          tag != "-" { print $1, 0, tag }
          END { print rev, percent, "-" }' "$state/service/traffic" >"$state/service/traffic.new"
        mv "$state/service/traffic.new" "$state/service/traffic"
        printf '  Routing traffic.....done\nDone.\n' >&2
        printf 'URL: https://%s\nTraffic:\n  %s%% %s\n' "$(service_host "$service")" "$percent" "$rev"
        exit 0
        ;;
      *) usage_error gcloud.run.services "Invalid choice: '$sub'." ;;
    esac
    ;;
  "run revisions")
    cmd_path=gcloud.run.revisions.${3:-}
    [ "${3:-}" = describe ] || usage_error gcloud.run.revisions "Invalid choice: '${3:-}'."
    shift 3
    parse "$@"
    require_known --region
    rev=${args[0]:-}
    status=$(awk -v rev="$rev" '$1 == rev { print $2 }' "$state/service/revisions" 2>/dev/null)
    [ -n "$status" ] || fail "$cmd_path" 1 "Cannot find revision [$rev]"
    message=''
    [ "$status" != False ] || message="The user-provided container failed to start and listen on the port defined provided by the PORT=8080 environment variable within the allocated timeout."
    printf '{"apiVersion":"serving.knative.dev/v1","kind":"Revision","metadata":{"name":"%s"},"status":{"conditions":[{"type":"Ready","status":"%s","message":"%s"},{"type":"Active","status":"True"}]}}\n' \
      "$rev" "$status" "$message"
    exit 0
    ;;
  "run deploy")
    cmd_path=gcloud.run.deploy
    shift 2
    parse "$@"
    require_known --region --platform --image --port --memory --cpu --timeout --concurrency --min-instances \
      --max-instances --session-affinity --no-session-affinity --cpu-boost --no-cpu-boost --cpu-throttling \
      --no-cpu-throttling --execution-environment --set-env-vars --set-secrets --startup-probe --liveness-probe \
      --service-account --allow-unauthenticated --no-allow-unauthenticated --labels --tag --no-traffic --ingress \
      --revision-suffix --async
    service=${args[0]:-}
    [[ $service =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || fail "$cmd_path" 1 "Invalid resource name [$service]. The name must use only lowercase alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer than 63 characters."
    [ -n "${flags[--image]:-}" ] || fail "$cmd_path" 1 "Requires a container image to deploy (e.g. \`gcr.io/cloudrun/hello:latest\`) if no build source is provided."
    [[ ${flags[--port]:-8080} =~ ^[0-9]+$ ]] || usage_error "$cmd_path" "argument --port: must be an integer between 1 and 65535, inclusive, or \"default\"."
    [[ ${flags[--concurrency]:-80} =~ ^[0-9]+$ ]] && [ "${flags[--concurrency]:-80}" -le 1000 ] || usage_error "$cmd_path" "argument --concurrency: must be an integer greater than 0 or \"default\"."
    case ${flags[--execution-environment]:-gen2} in gen1 | gen2) ;; *) usage_error "$cmd_path" "argument --execution-environment: Invalid choice: '${flags[--execution-environment]}'." ;; esac
    [ "${flags[--timeout]:-300}" -le 3600 ] || fail "$cmd_path" 1 "spec.template.spec.timeout_seconds: must be between 1 and 3600 seconds"
    exists=false
    [ -f "$state/service/traffic" ] && exists=true
    if [ "$exists" = false ] && [ -n "${flags[--no-traffic]:-}" ]; then
      fail "$cmd_path" 1 "--no-traffic not supported when creating a new service."
    fi
    printf 'Deploying container to Cloud Run service [%s] in project [%s] region [%s]\n' "$service" "${flags[--project]:-}" "${flags[--region]:-}" >&2
    if [ "$exists" = true ]; then printf 'Deploying...\n' >&2; else printf 'Deploying new service...\n' >&2; fi
    mkdir -p "$state/service"
    generation=$(( $(cat "$state/service/generation" 2>/dev/null || echo 0) + 1 ))
    echo "$generation" >"$state/service/generation"
    rev=$(printf '%s-%05d-abc' "$service" "$generation")
    if [ -f "$state/deploy-error" ]; then
      printf '%s False\n' "$rev" >>"$state/service/revisions"
      printf 'X Deploying...\n  - Creating Revision...\nDeployment failed\n' >&2
      extra=()
      [ ! -f "$state/deploy-error-extra" ] || mapfile -t extra <"$state/deploy-error-extra"
      fail "$cmd_path" 1 "$(sed "s/REVISION/$rev/g" "$state/deploy-error")" ${extra[@]+"${extra[@]}"}
    fi
    printf '%s %s\n' "$rev" "$(cat "$state/revision-ready" 2>/dev/null || echo True)" >>"$state/service/revisions"
    tag=${flags[--tag]:-}
    touch "$state/service/traffic"
    if [ -n "${flags[--no-traffic]:-}" ]; then
      # Tags are unique: an older revision loses this one. The split stays as it is.
      awk -v tag="$tag" '{ if ($3 == tag) { if ($2 > 0) print $1, $2, "-" } else print }' "$state/service/traffic" >"$state/service/traffic.new"
      percent=0
    else
      : >"$state/service/traffic.new"
      printf '%s 100 -\n' "$rev" >>"$state/service/traffic.new"
      percent=100
    fi
    [ -z "$tag" ] || printf '%s 0 %s\n' "$rev" "$tag" >>"$state/service/traffic.new"
    mv "$state/service/traffic.new" "$state/service/traffic"
    printf '  Creating Revision.....done\n' >&2
    [ "$percent" = 0 ] || printf '  Routing traffic.....done\n' >&2
    [ -z "${flags[--allow-unauthenticated]:-}" ] || printf '  Setting IAM Policy.....done\n' >&2
    printf 'Done.\nService [%s] revision [%s] has been deployed and is serving %s percent of traffic.\n' "$service" "$rev" "$percent" >&2
    [ "$percent" = 0 ] || printf 'Service URL: https://%s\n' "$(service_host "$service")" >&2
    [ -z "$tag" ] || printf 'The revision can be reached directly at https://%s---%s\n' "$tag" "$(service_host "$service")" >&2
    [ "${flags[--format]:-none}" != json ] || service_json "$service"
    exit 0
    ;;
  *)
    usage_error gcloud "Invalid choice: '${1:-}'."
    ;;
esac
