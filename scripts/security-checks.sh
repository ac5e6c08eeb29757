#!/usr/bin/env bash
# Static security checks, each stage reported, all stages run, non-zero exit if any failed:
#   1 ESLint (typescript-eslint strict, eslint-plugin-security, eslint-plugin-no-unsanitized;
#     eslint.config.mjs) — errors fail, heuristic warnings are printed for review
#   2 npm audit --audit-level=high — a high or critical advisory in any installed dependency fails
#   3 secretlint over the repository (.secretlintrc.json, .secretlintignore)
#   4 dependency-cruiser: the layer rules of .dependency-cruiser.cjs (lib/domain imports nothing
#     above it, app/ never reaches db/ or keys, no import cycles); test/architecture.test.ts
#     proves each rule fails on a planted violation and checks that feature folders form no cycle
#
# A vulnerable *transitive* dependency: first upgrade the direct dependency that pulls it in
# (`npm ls <pkg>` shows the path). If no fixed release of that parent exists yet, pin the fixed
# version of the transitive package with npm `overrides` in package.json, e.g.
#     "overrides": { "vulnerable-pkg": "^1.2.4" }            (everywhere)
#     "overrides": { "parent-pkg": { "vulnerable-pkg": "^1.2.4" } }   (under one parent only)
# then `npm install`, run the full test suite, and record the override with its advisory id and
# the condition for removing it in SECURITY.md ("Dependency exceptions"). An advisory that does
# not apply (e.g. a dev-only tool never shipped) is still fixed or overridden, not ignored: there
# is no allow-list here on purpose.
#
# npm audit needs the registry's advisory endpoint. When it is unreachable (an offline mirror
# answers 405, as the sandbox this was built in does), the stage is reported as UNAVAILABLE and
# warns loudly; set VIGIL_REQUIRE_AUDIT=1 on a CI runner with registry access to make it fail.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=0
notes=()
stage() { printf '\n==== [security] %s ====\n' "$*"; }

stage "1/4 ESLint"
if npx eslint . --max-warnings=-1; then notes+=("ok: eslint"); else notes+=("FAILED: eslint"); failed=1; fi

stage "2/4 npm audit --audit-level=high"
audit_out=$(npm audit --audit-level=high 2>&1)
audit_rc=$?
printf '%s\n' "$audit_out" | grep -v 'Unknown user config'
if (( audit_rc == 0 )); then
  notes+=("ok: npm audit (no high or critical advisories)")
elif grep -qE 'audit endpoint returned an error|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|405 Method Not Allowed' <<<"$audit_out"; then
  if [[ "${VIGIL_REQUIRE_AUDIT:-}" == 1 ]]; then
    notes+=("FAILED: npm audit UNAVAILABLE (advisory endpoint unreachable) and required here"); failed=1
  else
    notes+=("UNAVAILABLE: npm audit could not reach the advisory endpoint -- dependencies NOT audited")
  fi
else
  notes+=("FAILED: npm audit found high or critical advisories"); failed=1
fi

stage "3/4 secretlint"
if npx secretlint --secretlintignore .secretlintignore '**/*'; then notes+=("ok: secretlint"); else notes+=("FAILED: secretlint"); failed=1; fi

stage "4/4 dependency-cruiser (layer boundaries, cycles)"
if npx depcruise lib app components db instrumentation.ts proxy.ts --config .dependency-cruiser.cjs --output-type err; then
  notes+=("ok: dependency boundaries")
else
  notes+=("FAILED: dependency boundaries (.dependency-cruiser.cjs)"); failed=1
fi

stage "summary"
printf '  %s\n' "${notes[@]}"
exit "$failed"
