#!/usr/bin/env bash
# driftctl demo, offline after set-up: installs driftctl into .venv and the real Terraform 1.0.3
# (ci/install-test-tools), copies examples/live to a scratch directory, applies every stack there,
# then breaks some of them for real and runs `driftctl plan --all` on the copy:
#
#   dev/app      drifted  an input changed (settings.size), so its instances must be replaced
#   prod/dns     drifted  its component resource was dropped from the state (`terragrunt state rm`)
#   staging/app  errored  the required input `component` was removed from its terragrunt.hcl
#   dev/network, prod/network, prod/app   clean
#
# With no `terragrunt` on PATH it uses the TEST STAND-IN tests/terragrunt_standin/terragrunt, which
# behaves like Terragrunt v0.99.4 and runs the real Terraform underneath.
#
# Exits 0 when driftctl classified the stacks as above (driftctl itself then exits 1: there are
# errors), non-zero when the set-up failed, driftctl crashed, or the classification differs.
# DRIFTCTL_DEMO_DIR=<dir> picks the scratch directory (its `live/` is replaced on every run).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=${DRIFTCTL_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/driftctl-demo.XXXXXX")}
mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
live=$scratch/live
setup_log=$scratch/setup.log
apply_log=$scratch/apply.log
report=$scratch/report.json
: >"$setup_log"

say() { printf 'demo: %s\n' "$*"; }
die() {
  printf 'demo: %s\n' "$*" >&2
  exit 1
}

# --- driftctl in .venv (Debian's Python refuses system-wide pip installs, PEP 668) ----------------
venv=$repo/.venv
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  python3 -m venv "$venv" >>"$setup_log" 2>&1 ||
    die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv); see $setup_log"
fi
if ! "$venv/bin/python" -c 'import driftctl.cli' >/dev/null 2>&1; then
  say "installing driftctl into $venv (pip install -e .)"
  "$venv/bin/python" -m pip install --quiet -e "$repo" >>"$setup_log" 2>&1 ||
    die "pip install -e . failed; see $setup_log"
fi
# first on PATH: driftctl, and the python3 (with python-hcl2) the stand-in's shebang finds
export PATH="$venv/bin:$PATH"

# --- the real Terraform 1.0.3 and the null provider, as a filesystem mirror ------------------------
tools=$(bash "$repo/ci/install-test-tools" 2>>"$setup_log") || die "ci/install-test-tools failed; see $setup_log"
eval "$tools"
TG_TF_PATH=$(command -v terraform)
# Terragrunt prefers `tofu` when it is on PATH; the offline provider mirror is for this Terraform
export TG_TF_PATH
say "terraform: $TG_TF_PATH ($("$TG_TF_PATH" version | head -n 1))"

if command -v terragrunt >/dev/null 2>&1; then
  say "terragrunt: $(command -v terragrunt) ($(terragrunt --version 2>/dev/null | head -n 1))"
else
  export PATH="$repo/tests/terragrunt_standin:$PATH"
  say "no terragrunt on PATH: using the TEST STAND-IN tests/terragrunt_standin/terragrunt (Terragrunt v0.99.4 look-alike running the real Terraform)"
fi
export TG_NON_INTERACTIVE=true

# --- a scratch copy of the example, every stack applied ---------------------------------------------
rm -rf "$live"
cp -R "$repo/examples/live" "$live"
find "$live" \( -name .terragrunt-cache -o -name .terraform \) -prune -exec rm -rf {} +
find "$live" \( -name '*.tfstate' -o -name '*.tfstate.*' -o -name '*.tfplan' -o -name .terraform.lock.hcl \) -delete

: >"$apply_log"
count=0
while IFS= read -r unit; do
  id=${unit#"$live"/}
  printf '=== terragrunt apply in %s\n' "$id" >>"$apply_log"
  (cd "$unit" && terragrunt apply -auto-approve -input=false -no-color) >>"$apply_log" 2>&1 ||
    die "applying $id failed; see $apply_log"
  count=$((count + 1))
done < <(find "$live" -name terragrunt.hcl -not -path '*/.terragrunt-cache/*' -exec dirname {} \; | sort)
say "applied $count stacks in $live (log: $apply_log)"

# --- real drift in two stacks, an error in one ------------------------------------------------------
edit() { # edit <file> <sed expression>
  sed -i.orig -e "$2" "$1" && rm -f "$1.orig"
}
dev_app=$live/dev/app/terragrunt.hcl
edit "$dev_app" 's/size = "small"/size = "large"/'
grep -q 'size = "large"' "$dev_app" || die "could not change settings.size in $dev_app"
say "drift:  dev/app      settings.size small -> large (its instances must be replaced)"

(cd "$live/prod/dns" && terragrunt state rm null_resource.component) >>"$apply_log" 2>&1 ||
  die "terragrunt state rm in prod/dns failed; see $apply_log"
say "drift:  prod/dns     null_resource.component dropped from the state (must be created again)"

staging_app=$live/staging/app/terragrunt.hcl
edit "$staging_app" '/component *= *"app"/d'
! grep -q 'component' "$staging_app" || die "could not remove the component input from $staging_app"
say "error:  staging/app  the required input 'component' removed from terragrunt.hcl"

# --- driftctl -------------------------------------------------------------------------------------
say "running: driftctl plan --all --root $live --report $report"
set +e
driftctl plan --all --root "$live" --report "$report" --log-dir "$scratch/logs" --parallelism 3
code=$?
set -e
say "driftctl exited $code (0 clean, 2 drift, 1 errors)"
case $code in
  1 | 2) ;;
  *) die "driftctl did not classify the run as drifted/errored (exit $code); scratch dir: $scratch" ;;
esac
[ -s "$report" ] || die "driftctl wrote no report at $report"

python3 - "$report" <<'PY' || die "unexpected classification; see $report and the logs in $scratch/logs"
import json
import sys

expected = {
    "dev/app": "drifted",
    "prod/dns": "drifted",
    "staging/app": "errored",
    "dev/network": "clean",
    "prod/network": "clean",
    "prod/app": "clean",
}
with open(sys.argv[1], encoding="utf-8") as handle:
    report = json.load(handle)
got = {entry["stack"]: entry["state"] for entry in report["stacks"]}
for stack, state in sorted(expected.items()):
    print(f"demo:   {stack:<13} {got.get(stack, 'missing'):<8} (expected {state})")
sys.exit(0 if got == expected else 1)
PY

say "as expected: 2 drifted, 1 errored, 3 clean"
say "scratch dir: $scratch"
say "report:      $report"
say "stack logs:  $scratch/logs"
