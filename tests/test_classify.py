"""driftctl.classify: exit codes, `show -json` documents and stderr → state, counts and error kind.

The plan documents are trimmed from real `terraform show -json` output: Terraform 1.0.3
(format_version 0.2) and Terraform 1.11 (format_version 1.2).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import NULL_STACK, terraform, write_stack

from driftctl.classify import (
    Diagnostic,
    PlanFormatError,
    PlanStream,
    PlanSummary,
    StreamResult,
    changed_attributes,
    counts_of,
    detail,
    error_from_diagnostics,
    error_kind,
    final_state,
    is_transient,
    parse_plan_json,
    state_for_exit,
    summarize,
)
from driftctl.model import CheckResult, ErrorKind, ResourceChange, ResourceCounts, State

NULL_PROVIDER = "registry.terraform.io/hashicorp/null"


def resource_change(address: str, *actions: str, **extra: Any) -> dict[str, Any]:
    """One `resource_changes` entry as Terraform writes it; `importing` goes inside `change`."""
    kind, _, name = address.rpartition(".")
    mode = "data" if kind.startswith("data.") else "managed"
    change: dict[str, Any] = {
        "actions": list(actions),
        "before": None if actions[:1] == ("create",) else {"id": "4992197359354952672", "triggers": None},
        "after": None if actions == ("delete",) else {"triggers": None},
        "after_unknown": {},
        "before_sensitive": {},
        "after_sensitive": {},
    }
    importing = extra.pop("importing", None)
    if importing is not None:
        change["importing"] = importing
    return {
        "address": address,
        "mode": mode,
        "type": kind.removeprefix("data."),
        "name": name,
        "provider_name": NULL_PROVIDER,
        "change": change,
        **extra,
    }


def output_change(*actions: str) -> dict[str, Any]:
    return {
        "actions": list(actions),
        "before": None if actions == ("create",) else "one",
        "after": "two",
        "after_unknown": False,
        "before_sensitive": False,
        "after_sensitive": False,
    }


def tf10_document(
    changes: list[dict[str, Any]], outputs: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Terraform 1.0.x: format_version 0.2, no previous_address / importing."""
    return {
        "format_version": "0.2",
        "terraform_version": "1.0.3",
        "variables": {"v": {"value": "two"}},
        "planned_values": {"outputs": {}, "root_module": {"resources": []}},
        "resource_changes": changes,
        "output_changes": outputs or {},
        "prior_state": {"format_version": "0.2", "terraform_version": "1.0.3", "values": {}},
        "configuration": {"root_module": {}},
    }


def tf15_document(
    changes: list[dict[str, Any]],
    outputs: dict[str, dict[str, Any]] | None = None,
    drift: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Terraform 1.5+ (here 1.11.4): format_version 1.2, with the newer top-level keys."""
    document: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "output_changes": outputs or {},
        "prior_state": {"format_version": "1.0", "terraform_version": "1.11.4", "values": {}},
        "configuration": {"provider_config": {}, "root_module": {}},
        "relevant_attributes": [],
        "timestamp": "2025-04-01T10:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }
    if drift is not None:
        document["resource_drift"] = drift
    return document


def counts(add: int = 0, change: int = 0, destroy: int = 0, replace: int = 0) -> ResourceCounts:
    return ResourceCounts(add=add, change=change, destroy=destroy, replace=replace)


# ---- exit codes and final state ----


@pytest.mark.parametrize(
    ("code", "state"),
    [(0, State.CLEAN), (2, State.DRIFTED), (1, State.ERRORED), (3, State.ERRORED), (127, State.ERRORED)],
)
def test_state_for_exit(code: int, state: State) -> None:
    assert state_for_exit(code) is state


@pytest.mark.parametrize("code", [-9, -15, 126, 130, 137, 255])
def test_any_other_exit_code_is_errored(code: int) -> None:
    assert state_for_exit(code) is State.ERRORED


def test_final_state_with_resource_changes_is_drifted() -> None:
    summary = PlanSummary(counts(add=1), outputs_changed=True)

    assert final_state(summary, outputs_count_as_drift=False) is State.DRIFTED
    assert final_state(summary, outputs_count_as_drift=True) is State.DRIFTED


@pytest.mark.parametrize("field", ["add", "change", "destroy", "replace"])
def test_final_state_any_resource_count_is_drift(field: str) -> None:
    summary = PlanSummary(ResourceCounts(**{field: 1}), outputs_changed=False)

    assert final_state(summary, outputs_count_as_drift=False) is State.DRIFTED


def test_outputs_only_plan_is_clean_unless_outputs_count() -> None:
    summary = PlanSummary(counts(), outputs_changed=True)

    assert final_state(summary, outputs_count_as_drift=False) is State.CLEAN
    assert final_state(summary, outputs_count_as_drift=True) is State.DRIFTED


def test_unreadable_plan_stays_drifted() -> None:
    assert final_state(None, outputs_count_as_drift=False) is State.DRIFTED
    assert final_state(None, outputs_count_as_drift=True) is State.DRIFTED


def test_exit_2_with_nothing_counted_stays_drifted() -> None:
    # e.g. a plan whose only change is one driftctl does not count: trust the exit code
    assert final_state(PlanSummary(counts(), False), outputs_count_as_drift=False) is State.DRIFTED


def test_outputs_only_end_to_end_on_a_real_document() -> None:
    document = tf15_document(
        [resource_change("null_resource.keep", "no-op")],
        {"o": output_change("update"), "same": output_change("no-op")},
    )
    summary = summarize(parse_plan_json(json.dumps(document)))

    assert summary == PlanSummary(counts(), outputs_changed=True)
    assert final_state(summary, False) is State.CLEAN
    assert final_state(summary, True) is State.DRIFTED


# ---- summarize ----


@pytest.mark.parametrize("document", [tf10_document, tf15_document], ids=["0.2", "1.2"])
@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (("create",), counts(add=1)),
        (("update",), counts(change=1)),
        (("delete",), counts(destroy=1)),
        (("delete", "create"), counts(replace=1)),
        (("create", "delete"), counts(replace=1)),  # create_before_destroy
        (("no-op",), counts()),
        (("read",), counts()),
    ],
)
def test_summarize_each_action(actions: tuple[str, ...], expected: ResourceCounts, document: Any) -> None:
    doc = document([resource_change("null_resource.thing", *actions)])

    assert summarize(doc) == PlanSummary(expected, outputs_changed=False)


def test_summarize_terraform_1_0_mixed_plan() -> None:
    """The real Terraform 1.0.3 plan: a delete, a no-op, a create, a replace and an output update."""
    document = tf10_document(
        [
            resource_change("null_resource.gone", "delete"),
            resource_change("null_resource.keep", "no-op"),
            resource_change("null_resource.new", "create"),
            resource_change(
                "null_resource.repl",
                "delete",
                "create",
                action_reason="replace_because_cannot_update",
            ),
        ],
        {"o": output_change("update")},
    )

    assert summarize(document) == PlanSummary(counts(add=1, destroy=1, replace=1), outputs_changed=True)


def test_summarize_terraform_1_5_plan_with_moves_forget_read_and_import() -> None:
    """The real Terraform 1.11 plan shape: moved, removed (forget), create_before_destroy, deferred read."""
    document = tf15_document(
        [
            resource_change("data.null_data_source.d", "read", action_reason="read_because_config_unknown"),
            resource_change(
                "null_resource.cbd", "create", "delete", action_reason="replace_because_cannot_update"
            ),
            resource_change(
                "null_resource.forgotten", "forget", action_reason="delete_because_no_resource_config"
            ),
            resource_change("null_resource.fresh", "create"),
            resource_change("null_resource.new_name", "no-op", previous_address="null_resource.old_name"),
            resource_change("null_resource.upd", "no-op"),
            resource_change("null_resource.imp", "no-op", importing={"id": "12345"}),
            resource_change("null_resource.upd_imp", "update", importing={"id": "67890"}),
        ],
        {"added": output_change("create"), "same": output_change("no-op")},
    )

    assert summarize(document) == PlanSummary(counts(add=1, change=4, replace=1), outputs_changed=True)


def test_moved_resource_counts_as_a_change() -> None:
    moved = resource_change("null_resource.b", "no-op", previous_address="null_resource.a")

    assert summarize(tf15_document([moved])).resources == counts(change=1)


def test_previous_address_equal_to_address_is_not_a_move() -> None:
    same = resource_change("null_resource.a", "no-op", previous_address="null_resource.a")

    assert summarize(tf15_document([same])).resources == counts()


def test_moved_and_updated_counts_once() -> None:
    both = resource_change("null_resource.b", "update", previous_address="null_resource.a")

    assert summarize(tf15_document([both])).resources == counts(change=1)


def test_moved_and_replaced_counts_as_replace() -> None:
    both = resource_change("null_resource.b", "delete", "create", previous_address="null_resource.a")

    assert summarize(tf15_document([both])).resources == counts(replace=1)


def test_importing_no_op_counts_as_a_change() -> None:
    imported = resource_change("null_resource.imp", "no-op", importing={"id": "12345"})

    assert summarize(tf15_document([imported])).resources == counts(change=1)


def test_importing_and_creating_is_impossible_but_counts_once() -> None:
    odd = resource_change("null_resource.imp", "create", importing={"id": "12345"})

    assert summarize(tf15_document([odd])).resources == counts(add=1)


def test_forget_counts_as_a_change() -> None:
    forgotten = resource_change("null_resource.f", "forget")

    assert summarize(tf15_document([forgotten])).resources == counts(change=1)


def test_deferred_read_of_a_data_source_is_not_drift() -> None:
    read = resource_change("data.null_data_source.d", "read")

    assert summarize(tf15_document([read])) == PlanSummary(counts(), outputs_changed=False)


def test_resource_drift_is_not_counted() -> None:
    """Changes outside of Terraform that the plan does not act on are not planned changes."""
    document = tf15_document(
        [resource_change("null_resource.a", "no-op")],
        drift=[resource_change("null_resource.a", "update"), resource_change("null_resource.b", "delete")],
    )

    assert summarize(document).resources == counts()


def test_counts_accumulate_over_many_resources() -> None:
    changes = [resource_change(f"null_resource.c{i}", "create") for i in range(7)]
    changes += [resource_change(f"null_resource.u{i}", "update") for i in range(3)]
    changes += [resource_change(f"null_resource.d{i}", "delete") for i in range(2)]
    changes += [resource_change(f"null_resource.r{i}", "delete", "create") for i in range(5)]
    changes += [resource_change('module.m["x"].null_resource.r', "create", "delete")]

    assert summarize(tf15_document(changes)).resources == counts(add=7, change=3, destroy=2, replace=6)


def test_deposed_object_delete_counts_as_destroy() -> None:
    deposed = resource_change("null_resource.cbd", "delete", deposed="00000001")

    assert summarize(tf15_document([deposed])).resources == counts(destroy=1)


@pytest.mark.parametrize(
    "document",
    [
        {"format_version": "1.2"},
        {"format_version": "1.2", "resource_changes": None, "output_changes": None},
        {"format_version": "1.2", "resource_changes": [], "output_changes": {}},
        {"format_version": "1.2", "resource_changes": [{"address": "x"}]},
        {"format_version": "1.2", "resource_changes": [{"address": "x", "change": {"actions": "create"}}]},
        {"format_version": "1.2", "resource_changes": [{"address": "x", "change": None}]},
        {"format_version": "1.2", "output_changes": {"o": {"actions": []}, "p": {}}},
    ],
)
def test_summarize_tolerates_missing_and_odd_fields(document: dict[str, Any]) -> None:
    assert summarize(document) == PlanSummary(counts(), outputs_changed=False)


@pytest.mark.parametrize(
    ("actions", "changed"),
    [
        (("no-op",), False),
        (("create",), True),
        (("update",), True),
        (("delete",), True),
    ],
)
def test_output_changes(actions: tuple[str, ...], changed: bool) -> None:
    document = tf10_document([], {"value": output_change(*actions), "other": output_change("no-op")})

    assert summarize(document).outputs_changed is changed


# ---- parse_plan_json ----


def compact(document: dict[str, Any]) -> str:
    """JSON as `show -json` prints it: one line, no spaces."""
    return json.dumps(document, separators=(",", ":"))


def test_parse_plain_document() -> None:
    document = tf10_document([resource_change("null_resource.a", "create")])

    parsed = parse_plan_json(compact(document) + "\n")

    assert parsed == document


@pytest.mark.parametrize("version", ["0.1", "0.2", "1.0", "1.1", "1.2", "1.9"])
def test_supported_format_versions(version: str) -> None:
    assert parse_plan_json(json.dumps({"format_version": version}))["format_version"] == version


def test_terragrunt_log_prefix_is_stripped() -> None:
    document = tf15_document([resource_change("null_resource.a", "delete", "create")])
    text = (
        "12:34:56.700 INFO   Downloading Terraform configurations into .terragrunt-cache\n"
        f"12:34:56.789 STDOUT terraform: {compact(document)}\n"
    )

    parsed = parse_plan_json(text)

    assert parsed == document
    assert summarize(parsed).resources == counts(replace=1)


@pytest.mark.parametrize(
    "prefix",
    [
        "12:34:56.789 STDOUT terraform: ",
        "12:34:56.789 STDOUT tofu: ",
        "12:34:56.789 STDOUT [prod/vpc] terraform: ",
        "23:59:59.000 STDOUT  terraform: ",
    ],
)
def test_terragrunt_prefix_variants(prefix: str) -> None:
    document = tf10_document([resource_change("null_resource.a", "update")])

    assert parse_plan_json(prefix + compact(document)) == document


def test_terragrunt_prefixed_multi_line_json() -> None:
    document = tf15_document([resource_change("null_resource.a", "create")])
    pretty = json.dumps(document, indent=2).splitlines()
    text = "\n".join(f"01:02:03.456 STDOUT terraform: {line}" for line in pretty)

    assert parse_plan_json(text) == document


def test_string_values_that_mention_stdout_survive() -> None:
    document = tf15_document([resource_change("null_resource.a", "create")])
    document["variables"] = {"note": {"value": "12:34:56.789 STDOUT terraform: not a prefix"}}

    assert parse_plan_json(json.dumps(document)) == document


@pytest.mark.parametrize("version", ["2.0", "3", "", "10.1"])
def test_unsupported_format_version_is_rejected(version: str) -> None:
    with pytest.raises(PlanFormatError, match="unsupported plan format_version") as caught:
        parse_plan_json(json.dumps({"format_version": version, "resource_changes": []}))

    assert repr(version) in str(caught.value)


def test_missing_format_version_is_rejected() -> None:
    with pytest.raises(PlanFormatError, match="unsupported plan format_version ''"):
        parse_plan_json('{"resource_changes": []}')


def test_unsupported_format_version_behind_a_prefix_is_rejected() -> None:
    with pytest.raises(PlanFormatError, match=r"'2\.0'"):
        parse_plan_json('12:34:56.789 STDOUT terraform: {"format_version": "2.0"}')


@pytest.mark.parametrize(
    "text",
    [
        "",
        "No changes. Your infrastructure matches the configuration.",
        "[1, 2, 3]",
        '"a string"',
        "null",
        '{"format_version": "1.2"',  # truncated
        "12:34:56.789 INFO   no stdout here",
        "12:34:56.789 STDOUT terraform: [1]",
    ],
)
def test_non_json_or_non_object_is_rejected(text: str) -> None:
    with pytest.raises(PlanFormatError, match="did not print a JSON plan document"):
        parse_plan_json(text)


# ---- error kinds from real stderr ----

LOCK_S3 = """
Error: Error acquiring the state lock

Error message: ConditionalCheckFailedException: The conditional request
failed
Lock Info:
  ID:        5c2e1c3f-0a5e-7f1e-2a4b-3d3c6f1e9b7a
  Path:      acme-tfstate/prod/vpc/terraform.tfstate
  Operation: OperationTypePlan
  Who:       runner@ci-7f9c
  Version:   1.5.7
  Created:   2025-03-01 10:00:00.123456789 +0000 UTC
  Info:

Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
"""

LOCK_AZURE = """
Error: Error acquiring the state lock

Error message: state blob is already locked
Lock Info:
  ID:        0d2c1f52-8a3b-4f56-a6e1-1f1f3c1a6a11
  Path:      tfstate/prod.terraform.tfstate
"""

LOCK_TIMEOUT = """
Error: Error locking state: Error acquiring the state lock: 2 errors occurred:
	* ConditionalCheckFailedException: The conditional request failed
	* timeout while waiting for lock: context deadline exceeded
"""

ACCESS_DENIED = """
Error: Failed to get existing workspaces: Unable to list objects in S3 bucket "acme-tfstate": \
operation error S3: ListObjectsV2, https response error StatusCode: 403, RequestID: 6Q4ZP8XK, \
HostID: abc=, api error AccessDenied: Access Denied
"""

EXPIRED_TOKEN = """
Error: Retrieving AWS account details: validating provider credentials: retrieving caller identity \
from STS: operation error STS: GetCallerIdentity, https response error StatusCode: 403, RequestID: \
1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901, api error ExpiredToken: The security token included in the \
request is expired

  with provider["registry.terraform.io/hashicorp/aws"],
  on providers.tf line 1, in provider "aws":
   1: provider "aws" {
"""

GCP_NO_CREDENTIALS = """
Error: Attempted to load application default credentials since neither `credentials` nor \
`access_token` was set in the provider block.  No credentials loaded. To use your gcloud \
credentials, run 'gcloud auth application-default login'

google: could not find default credentials. See \
https://cloud.google.com/docs/authentication/external/set-up-adc for more information
"""

CONNECTION_RESET = """
Error: reading S3 Bucket (acme-logs): RequestError: send request failed
caused by: Get "https://acme-logs.s3.amazonaws.com/?acl=": read tcp \
10.0.0.5:51234->52.216.1.1:443: read: connection reset by peer

  with aws_s3_bucket.logs,
  on main.tf line 12, in resource "aws_s3_bucket" "logs":
  12: resource "aws_s3_bucket" "logs" {
"""

IO_TIMEOUT = """
Error: configuring Terraform AWS Provider: dial tcp: lookup sts.eu-west-1.amazonaws.com on \
127.0.0.53:53: read udp 127.0.0.1:45678->127.0.0.53:53: i/o timeout
"""

TOO_MANY_REQUESTS = """
Error: Failed to install provider

Error while installing hashicorp/aws v5.40.0: could not query provider registry for \
registry.terraform.io/hashicorp/aws: 429 Too Many Requests
"""

REGISTRY_UNREACHABLE = """
Error: Failed to query available provider packages

Could not retrieve the list of available versions for provider hashicorp/aws: could not connect to
registry.terraform.io: Failed to request discovery document: Get
"https://registry.terraform.io/.well-known/terraform.json": net/http: request canceled while
waiting for connection (Client.Timeout exceeded while awaiting headers)
"""

UNDECLARED_VARIABLE = """
Error: Reference to undeclared input variable

  on main.tf line 1, in resource "null_resource" "x":
   1: resource "null_resource" "x" { triggers = { a = var.nope } }

An input variable with the name "nope" has not been declared. This variable
can be declared with a variable "nope" {} block.
"""

UNSUPPORTED_ARGUMENT = """
Error: Unsupported argument

  on main.tf line 1, in resource "null_resource" "x":
   1: resource "null_resource" "x" { bogus = 1 }

An argument named "bogus" is not expected here.
"""

NO_VALUE = """
Error: No value for required variable

  on main.tf line 2:
   2: variable "need" {}

The root module input variable "need" is not set, and has no default value.
Use a -var or -var-file command line argument to provide a value for this
variable.
"""

PANIC = """
Stack trace from the terraform-provider-acme_v1.2.3 plugin:

panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1a2b3c]

goroutine 42 [running]:

Error: The terraform-provider-acme_v1.2.3 plugin crashed!
"""

INCONSISTENT_FINAL_PLAN = """
Error: Provider produced inconsistent final plan

When expanding the plan for aws_instance.web to include new values learned so
far during apply, provider "registry.terraform.io/hashicorp/aws" produced an invalid new value.

This is a bug in the provider, which should be reported in the provider's own issue tracker.
"""

INCONSISTENT_LOCK_FILE = """
Error: Inconsistent dependency lock file

The following dependency selections recorded in the lock file are
inconsistent with the current configuration:
  - provider registry.terraform.io/hashicorp/other: required by this configuration but no version is selected

To update the locked dependency selections to match a changed configuration,
run:
  terraform init -upgrade
"""

AWS_TOO_MANY_REQUESTS = """
Error: reading Lambda Function (acme-worker): operation error Lambda: GetFunction, https response \
error StatusCode: 429, RequestID: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b, TooManyRequestsException: \
Rate exceeded
"""


def lines(text: str) -> list[str]:
    return text.strip("\n").splitlines()


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        (LOCK_S3, ErrorKind.LOCK),
        (LOCK_AZURE, ErrorKind.LOCK),
        (LOCK_TIMEOUT, ErrorKind.LOCK),  # mentions a timeout and a deadline, but is a lock
        (ACCESS_DENIED, ErrorKind.AUTH),
        (EXPIRED_TOKEN, ErrorKind.AUTH),
        (GCP_NO_CREDENTIALS, ErrorKind.AUTH),
        (CONNECTION_RESET, ErrorKind.NETWORK),
        (IO_TIMEOUT, ErrorKind.NETWORK),
        (TOO_MANY_REQUESTS, ErrorKind.NETWORK),
        (REGISTRY_UNREACHABLE, ErrorKind.NETWORK),
        (UNDECLARED_VARIABLE, ErrorKind.CONFIG),
        (UNSUPPORTED_ARGUMENT, ErrorKind.CONFIG),
        (NO_VALUE, ErrorKind.CONFIG),
        (PANIC, ErrorKind.UNKNOWN),
        ("", ErrorKind.UNKNOWN),
        ("exit status 1", ErrorKind.UNKNOWN),
    ],
    ids=[
        "lock-s3",
        "lock-azure",
        "lock-timeout",
        "access-denied",
        "expired-token",
        "gcp-no-credentials",
        "connection-reset",
        "io-timeout",
        "429",
        "registry-unreachable",
        "undeclared-variable",
        "unsupported-argument",
        "no-value",
        "panic",
        "empty",
        "exit-status",
    ],
)
def test_error_kind_from_real_stderr(stderr: str, kind: ErrorKind) -> None:
    assert error_kind(lines(stderr)) is kind


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        pytest.param(INCONSISTENT_LOCK_FILE, ErrorKind.CONFIG, id="inconsistent-lock-file"),
        pytest.param(
            "Error: Missing required provider\n\nThis configuration requires provider "
            "registry.terraform.io/hashicorp/aws, but that provider isn't available. You may be able "
            "to install it automatically by running:\n  terraform init",
            ErrorKind.CONFIG,
            id="missing-required-provider",
        ),
        pytest.param(INCONSISTENT_FINAL_PLAN, ErrorKind.UNKNOWN, id="provider-bug"),
    ],
)
def test_errors_naming_a_provider_address_are_not_network(stderr: str, kind: ErrorKind) -> None:
    assert error_kind(lines(stderr)) is kind


def test_aws_sdk_429_is_network() -> None:
    assert error_kind(lines(AWS_TOO_MANY_REQUESTS)) is ErrorKind.NETWORK


@pytest.mark.parametrize(
    "stderr",
    [
        "api error Throttling: Rate exceeded",
        'Status=429 Code="TooManyRequests" Message="The request is being throttled."',
        "RequestLimitExceeded: Request limit exceeded.",
        "503 Service Unavailable",
        "SlowDown: Please reduce your request rate.",
    ],
)
def test_throttling_is_network(stderr: str) -> None:
    assert error_kind([stderr]) is ErrorKind.NETWORK


def test_gcp_rate_limit_is_network() -> None:
    stderr = (
        "Error: Error when reading or editing Project Service acme/compute.googleapis.com: "
        "googleapi: Error 429: Quota exceeded for quota metric 'Read requests', rateLimitExceeded"
    )

    assert error_kind([stderr]) is ErrorKind.NETWORK


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("Error acquiring the state lock\ndial tcp: i/o timeout\nAccessDenied", ErrorKind.LOCK),
        ("AccessDenied: Access Denied\nread: connection reset by peer", ErrorKind.AUTH),
        ("connection refused\nError: Unsupported argument", ErrorKind.NETWORK),
    ],
)
def test_error_kind_priority_lock_auth_network_config(stderr: str, kind: ErrorKind) -> None:
    assert error_kind(stderr.splitlines()) is kind


def test_error_kind_is_case_insensitive() -> None:
    assert error_kind(["ERROR ACQUIRING THE STATE LOCK"]) is ErrorKind.LOCK
    assert error_kind(["Connection Reset by peer"]) is ErrorKind.NETWORK


def test_error_kind_sees_a_pattern_on_any_line_of_the_tail() -> None:
    tail = ["noise"] * 150 + ["api error ExpiredToken: The security token included in the request is expired"]

    assert error_kind(tail) is ErrorKind.AUTH


def test_error_kind_accepts_any_iterable() -> None:
    assert error_kind(iter(lines(LOCK_S3))) is ErrorKind.LOCK
    assert error_kind(tuple(lines(NO_VALUE))) is ErrorKind.CONFIG


@pytest.mark.parametrize("stderr", [LOCK_S3, NO_VALUE, ACCESS_DENIED, ""])
def test_timed_out_is_timeout_whatever_stderr_says(stderr: str) -> None:
    assert error_kind(lines(stderr), timed_out=True) is ErrorKind.TIMEOUT


@pytest.mark.parametrize(
    ("kind", "transient"),
    [
        (ErrorKind.LOCK, True),
        (ErrorKind.NETWORK, True),
        (ErrorKind.AUTH, False),
        (ErrorKind.TIMEOUT, False),
        (ErrorKind.CONFIG, False),
        (ErrorKind.UNKNOWN, False),
    ],
)
def test_is_transient(kind: ErrorKind, transient: bool) -> None:
    assert is_transient(kind) is transient


# ---- against real Terraform: the pinned 1.0.3 (format 0.2) and any newer one installed (1.2) ----

NEWER_TERRAFORM = Path("/usr/local/bin/terraform")


@pytest.fixture(params=["pinned", "newer"])
def real_terraform(request: pytest.FixtureRequest, tf_environ: dict[str, str]) -> tuple[str, str]:
    """(binary, expected format_version). The pinned binary is taken from its install directory:
    conftest's PATH entry for it carries a stray quote, so `which terraform` can find another one."""
    if request.param == "pinned":
        binary = Path(tf_environ["DRIFTCTL_TOOLS_DIR"]) / "bin" / "terraform"
        return str(binary), "0.2"
    if not NEWER_TERRAFORM.is_file():
        pytest.skip(f"{NEWER_TERRAFORM} is not installed")
    return str(NEWER_TERRAFORM), "1.2"


def applied_stack(binary: str, environ: dict[str, str], directory: Path, body: str = NULL_STACK) -> Path:
    """The test stack written to `directory`, initialised and applied: its next plan is clean."""
    stack = write_stack(directory, body)
    terraform(environ, stack, "init", "-input=false", "-no-color", binary=binary)
    terraform(environ, stack, "apply", "-auto-approve", "-input=false", "-no-color", binary=binary)
    return stack


def stream_and_document(
    binary: str, environ: dict[str, str], stack: Path, *args: str
) -> tuple[int, list[str], dict[str, Any]]:
    """A real `plan -json -detailed-exitcode -out=...` and `show -json` of the plan it saved."""
    plan = subprocess.run(
        [binary, "plan", "-json", "-detailed-exitcode", "-input=false", "-lock=false", "-out=p", *args],
        cwd=stack,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    shown = subprocess.run(
        [binary, "show", "-json", "p"], cwd=stack, env=environ, capture_output=True, text=True, check=True
    )
    return plan.returncode, plan.stdout.splitlines(), dict(parse_plan_json(shown.stdout))


@pytest.mark.terraform
def test_summarize_a_real_plan(
    tf_environ: dict[str, str], real_terraform: tuple[str, str], tmp_path: Path
) -> None:
    binary, version = real_terraform
    stack = applied_stack(binary, tf_environ, tmp_path / "stack")
    (stack / "main.tf").write_text(
        NULL_STACK.replace('default = "one"', 'default = "two"') + 'resource "null_resource" "extra" {}\n',
        encoding="utf-8",
    )

    code, _, document = stream_and_document(binary, tf_environ, stack)
    summary = summarize(document)

    assert state_for_exit(code) is State.DRIFTED
    assert document["format_version"] == version
    assert summary == PlanSummary(counts(add=1, replace=1), outputs_changed=True)
    assert final_state(summary, outputs_count_as_drift=False) is State.DRIFTED


@pytest.mark.terraform
def test_real_outputs_only_plan_is_clean(
    tf_environ: dict[str, str], real_terraform: tuple[str, str], tmp_path: Path
) -> None:
    binary, _ = real_terraform
    stack = applied_stack(binary, tf_environ, tmp_path / "stack")
    with (stack / "main.tf").open("a", encoding="utf-8") as body:
        body.write('output "new" {\n  value = "x"\n}\n')

    code, _, document = stream_and_document(binary, tf_environ, stack)
    summary = summarize(document)

    assert state_for_exit(code) is State.DRIFTED
    assert summary == PlanSummary(counts(), outputs_changed=True)
    assert final_state(summary, outputs_count_as_drift=False) is State.CLEAN
    assert final_state(summary, outputs_count_as_drift=True) is State.DRIFTED


# --- what drifted: the `plan -json` stream and `show -json` detail ------------------------------------

DETAIL_STACK = """
variable "value" {
  type    = string
  default = "one"
}

resource "null_resource" "thing" {
  triggers = { value = var.value, owner = "a" }
}

resource "null_resource" "gone" {
  triggers = { value = "x" }
}

output "value" {
  value = var.value
}
"""


def streamed(lines: list[str]) -> tuple[list[str | None], StreamResult]:
    stream = PlanStream()
    logged = [stream.feed(line) for line in lines]
    return logged, stream.result()


@pytest.mark.terraform
def test_real_config_drift_state_drift_and_replacement(
    tf_environ: dict[str, str], real_terraform: tuple[str, str], tmp_path: Path
) -> None:
    binary, _ = real_terraform
    stack = applied_stack(binary, tf_environ, tmp_path / "stack", DETAIL_STACK)
    # config drift: a changed trigger forces a replacement; state drift: an object gone from state
    (stack / "main.tf").write_text(DETAIL_STACK.replace('owner = "a"', 'owner = "b"'), encoding="utf-8")
    terraform(tf_environ, stack, "state", "rm", "null_resource.gone", binary=binary)

    code, lines, document = stream_and_document(binary, tf_environ, stack)
    logged, stream = streamed(lines)
    found = detail(document)

    assert code == 2
    assert {(c.address, c.action, c.resource_type) for c in stream.changes} == {
        ("null_resource.thing", "replace", "null_resource"),
        ("null_resource.gone", "create", "null_resource"),
    }
    assert stream.summary is not None and stream.summary["add"] == 2 and stream.summary["remove"] == 1
    by_address = {c.address: c for c in found.changes}
    assert by_address["null_resource.thing"].action == "replace"
    assert by_address["null_resource.thing"].attributes == ("triggers.owner",)
    assert by_address["null_resource.gone"] == ResourceChange("null_resource.gone", "create", "null_resource")
    assert found.outside == () and found.checks == ()
    assert "null_resource.thing: Plan to replace" in logged
    # the hooks' `[id=...]` is an attribute value: cut from what the log keeps
    assert not any(line and "id=" in line for line in logged)


@pytest.mark.terraform
def test_real_state_edited_outside_the_config_is_named_by_attribute(
    tf_environ: dict[str, str], real_terraform: tuple[str, str], tmp_path: Path
) -> None:
    """State drift: the recorded object no longer matches the config (here: its state edited)."""
    binary, _ = real_terraform
    stack = applied_stack(binary, tf_environ, tmp_path / "stack", DETAIL_STACK)
    state_file = stack / "terraform.tfstate"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    for resource in state["resources"]:
        if resource["name"] == "gone":
            resource["instances"][0]["attributes"]["triggers"]["value"] = "edited"
    state["serial"] += 1
    state_file.write_text(json.dumps(state), encoding="utf-8")

    code, lines, document = stream_and_document(binary, tf_environ, stack)
    _, stream = streamed(lines)

    assert code == 2
    assert [(c.address, c.action) for c in stream.changes] == [("null_resource.gone", "replace")]
    assert [(c.address, c.action, c.attributes) for c in detail(document).changes] == [
        ("null_resource.gone", "replace", ("triggers.value",))
    ]


@pytest.mark.terraform
def test_real_in_place_update_names_nested_paths(tf_environ: dict[str, str], tmp_path: Path) -> None:
    """`terraform_data` (Terraform >= 1.4) updates in place: nested map and list paths."""
    if not NEWER_TERRAFORM.is_file():
        pytest.skip(f"{NEWER_TERRAFORM} is not installed (terraform_data needs Terraform >= 1.4)")
    body = (
        'resource "terraform_data" "sg" {\n'
        '  input = { tags = { owner = "a", team = "x" }, ingress = [{ cidr_blocks = ["10.0.0.0/8"] }] }\n'
        "}\n"
    )
    stack = applied_stack(str(NEWER_TERRAFORM), tf_environ, tmp_path / "stack", body)
    (stack / "main.tf").write_text(body.replace('"a"', '"b"').replace("10.0.", "10.1."), encoding="utf-8")

    code, lines, document = stream_and_document(str(NEWER_TERRAFORM), tf_environ, stack)
    _, stream = streamed(lines)

    assert code == 2
    assert [(c.address, c.action) for c in stream.changes] == [("terraform_data.sg", "update")]
    (change,) = detail(document).changes
    assert change.action == "update"
    # `output` is computed from `input`: unknown until apply, so it differs too
    assert change.attributes == ("input.ingress[0].cidr_blocks", "input.tags.owner", "output")


@pytest.mark.terraform
def test_real_failing_check_block_is_reported(tf_environ: dict[str, str], tmp_path: Path) -> None:
    """`check` blocks need Terraform >= 1.5; the failure is a warning, so a clean plan still has it."""
    if not NEWER_TERRAFORM.is_file():
        pytest.skip(f"{NEWER_TERRAFORM} is not installed (check blocks need Terraform >= 1.5)")
    body = DETAIL_STACK + (
        'check "health" {\n  assert {\n    condition     = var.value == "one"\n'
        '    error_message = "value must be one"\n  }\n}\n'
    )
    stack = applied_stack(str(NEWER_TERRAFORM), tf_environ, tmp_path / "stack", body)

    clean_code, clean_lines, _ = stream_and_document(str(NEWER_TERRAFORM), tf_environ, stack)
    code, lines, document = stream_and_document(str(NEWER_TERRAFORM), tf_environ, stack, "-var=value=two")
    logged, stream = streamed(lines)

    assert clean_code == 0 and streamed(clean_lines)[1].checks == ()
    assert code == 2
    assert stream.checks == (CheckResult("check.health", "fail"),)
    assert detail(document).checks == (CheckResult("check.health", "fail"),)
    assert stream.errors == ()
    # the diagnostic's snippet quotes `var.value is "two"`: never kept
    assert not any(line and '"two"' in line for line in logged)
    assert "Warning: Check block assertion failed (main.tf:20): value must be one" in logged


@pytest.mark.terraform
def test_real_error_comes_from_the_diagnostic(
    tf_environ: dict[str, str], real_terraform: tuple[str, str], tmp_path: Path
) -> None:
    binary, _ = real_terraform
    stack = applied_stack(binary, tf_environ, tmp_path / "stack", DETAIL_STACK)
    with (stack / "main.tf").open("a", encoding="utf-8") as body:
        body.write('resource "null_resource" "bad" {\n  triggers = { x = var.nope }\n}\n')

    plan = subprocess.run(
        [binary, "plan", "-json", "-detailed-exitcode", "-input=false", "-out=p"],
        cwd=stack,
        env=tf_environ,
        capture_output=True,
        text=True,
        check=False,
    )
    _, stream = streamed(plan.stdout.splitlines())
    error = error_from_diagnostics(stream.diagnostics)

    assert plan.returncode == 1
    assert error is not None
    assert error.kind is ErrorKind.CONFIG
    assert error.message.startswith("Error: Reference to undeclared input variable (main.tf:")
    assert 'An input variable with the name "nope" has not been declared' in error.message


def test_stream_lines_that_are_not_messages_are_counted_not_kept() -> None:
    stream = PlanStream()

    assert stream.feed("Initializing the backend...\n") is None
    assert stream.feed("{not json\n") is None
    assert stream.feed('{"no": "type"}\n') is None
    assert stream.result().other_lines == 3 and stream.result().json_lines == 0


def test_stream_through_terragrunt_log_prefix() -> None:
    """terragrunt >= 0.67 without TG_TF_FORWARD_STDOUT wraps each stdout line in its log format."""
    line = (
        '12:00:01.123 STDOUT [prod/app] terraform: {"@message":"null_resource.a: Plan to create",'
        '"type":"planned_change","change":{"resource":{"addr":"null_resource.a",'
        '"resource_type":"null_resource"},"action":"create"}}'
    )
    logged, stream = streamed([line])

    assert logged == ["null_resource.a: Plan to create"]
    assert stream.changes == (ResourceChange("null_resource.a", "create", "null_resource"),)


# Hand-written to Terraform's documented machine-readable UI (format "ui": "1.2", Terraform 1.11):
# the null provider never changes outside Terraform, so `resource_drift` cannot be recorded here.
DRIFT_STREAM = [
    '{"@level":"info","@message":"Terraform 1.11.4","type":"version","terraform":"1.11.4","ui":"1.2"}',
    '{"@level":"info","@message":"aws_security_group.web: Drift detected (update)","type":"resource_drift",'
    '"change":{"resource":{"addr":"aws_security_group.web","module":"","resource":"aws_security_group.web",'
    '"implied_provider":"aws","resource_type":"aws_security_group","resource_name":"web",'
    '"resource_key":null},"action":"update"}}',
    '{"@level":"info","@message":"No changes. Your infrastructure matches the configuration.",'
    '"type":"change_summary","changes":{"add":0,"change":0,"import":0,"remove":0,"operation":"plan"}}',
]


def test_outside_change_with_an_empty_plan_from_the_stream() -> None:
    logged, stream = streamed(DRIFT_STREAM)

    assert stream.changes == ()
    assert stream.drift == (
        ResourceChange("aws_security_group.web", "update", "aws_security_group", outside=True),
    )
    assert stream.summary == {"add": 0, "change": 0, "import": 0, "remove": 0}
    assert logged[1] == "aws_security_group.web: Drift detected (update)"


def aws_sg(
    address: str, before_cidr: str, after_cidr: str, actions: tuple[str, ...] = ("update",)
) -> dict[str, Any]:
    kind, _, name = address.rpartition(".")
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": list(actions),
            "before": {
                "id": "sg-1",
                "ingress": [{"cidr_blocks": [before_cidr], "from_port": 443}],
                "tags": {},
            },
            "after": {"id": "sg-1", "ingress": [{"cidr_blocks": [after_cidr], "from_port": 443}], "tags": {}},
            "after_unknown": {},
            "before_sensitive": {"ingress": [{"cidr_blocks": [False]}], "tags": {}},
            "after_sensitive": {"ingress": [{"cidr_blocks": [False]}], "tags": {}},
        },
    }


def tf111_document(**parts: Any) -> dict[str, Any]:
    """Terraform 1.11's `show -json` (format_version 1.2), as documented; trimmed to what is read."""
    return {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": [], **parts}


def test_outside_change_the_plan_does_not_act_on_is_reported_apart() -> None:
    document = tf111_document(
        resource_drift=[aws_sg("aws_security_group.web", "10.0.0.0/8", "0.0.0.0/0")],
        resource_changes=[
            {
                **aws_sg("aws_security_group.web", "0.0.0.0/0", "0.0.0.0/0"),
                "change": {
                    **aws_sg("aws_security_group.web", "0.0.0.0/0", "0.0.0.0/0")["change"],
                    "actions": ["no-op"],
                },
            }
        ],
        relevant_attributes=[],
    )

    found = detail(document)

    assert found.changes == ()
    assert found.outside == (
        ResourceChange(
            "aws_security_group.web",
            "update",
            "aws_security_group",
            ("ingress[0].cidr_blocks",),
            outside=True,
        ),
    )


def test_outside_change_relevant_to_the_plan_marks_its_cause() -> None:
    document = tf111_document(
        resource_drift=[
            aws_sg("aws_security_group.web", "10.0.0.0/8", "0.0.0.0/0"),
            aws_sg("aws_security_group.other", "10.0.0.0/8", "10.2.0.0/16"),
        ],
        resource_changes=[aws_sg("aws_security_group.web", "0.0.0.0/0", "10.0.0.0/8")],
        relevant_attributes=[
            {"resource": "aws_security_group.web", "attribute": ["ingress", 0, "cidr_blocks"]}
        ],
    )

    found = detail(document)

    assert [(c.address, c.outside, c.attributes) for c in found.changes] == [
        ("aws_security_group.web", True, ("ingress[0].cidr_blocks",))
    ]
    assert [c.address for c in found.outside] == ["aws_security_group.other"]


def test_before_format_1_1_every_drifted_object_the_plan_acts_on_is_a_cause() -> None:
    document = {
        "format_version": "0.2",
        "resource_drift": [aws_sg("aws_security_group.web", "10.0.0.0/8", "0.0.0.0/0")],
        "resource_changes": [aws_sg("aws_security_group.web", "0.0.0.0/0", "10.0.0.0/8")],
    }

    assert [c.outside for c in detail(document).changes] == [True]


@pytest.mark.parametrize(
    ("change", "action", "paths"),
    [
        # a map key that is not an identifier is quoted, as Terraform writes an index
        (
            {"before": {"tags": {"k8s.io/name": "a"}}, "after": {"tags": {"k8s.io/name": "b"}}},
            "update",
            ('tags["k8s.io/name"]',),
        ),
        # a list of plain values is one attribute; a longer list of objects is the list itself
        ({"before": {"ports": [1, 2]}, "after": {"ports": [1, 3]}}, "update", ("ports",)),
        ({"before": {"rule": [{"a": 1}]}, "after": {"rule": [{"a": 1}, {"a": 2}]}}, "update", ("rule",)),
        # a sensitive value is not walked into: its keys may be secret too
        (
            {
                "before": {"env": {"TOKEN": "x"}},
                "after": {"env": {"TOKEN": "y"}},
                "after_sensitive": {"env": True},
            },
            "update",
            ("env",),
        ),
        # replacement: computed values become unknown; only replace_paths make one count
        (
            {
                "before": {"id": "1", "arn": "a", "name": "n"},
                "after": {"name": "m"},
                "after_unknown": {"id": True, "arn": True},
            },
            "replace",
            ("name",),
        ),
        (
            {
                "before": {"id": "1", "keepers": "a"},
                "after": {},
                "after_unknown": {"id": True, "keepers": True},
                "replace_paths": [["keepers"]],
            },
            "replace",
            ("keepers",),
        ),
        # update: a value unknown until apply differs
        (
            {"before": {"version": "1"}, "after": {}, "after_unknown": {"version": True}},
            "update",
            ("version",),
        ),
        ({"before": {"a": None}, "after": {"a": None}}, "update", ()),
    ],
)
def test_changed_attributes(change: dict[str, Any], action: str, paths: tuple[str, ...]) -> None:
    assert changed_attributes(change, action) == paths


def test_changed_attributes_never_hold_values() -> None:
    change = {"before": {"password": "hunter2"}, "after": {"password": "s3cret-VALUE"}}

    assert changed_attributes(change) == ("password",)


def test_checks_keep_failing_and_errored_ones() -> None:
    document = tf111_document(
        checks=[
            {"address": {"kind": "check", "name": "ok", "to_display": "check.ok"}, "status": "pass"},
            {"address": {"kind": "check", "name": "h", "to_display": "check.h"}, "status": "fail"},
            {"address": {"kind": "check", "name": "d", "to_display": "module.m.check.d"}, "status": "error"},
            {"address": {"kind": "check", "name": "u", "to_display": "check.u"}, "status": "unknown"},
        ]
    )

    assert detail(document).checks == (
        CheckResult("check.h", "fail"),
        CheckResult("module.m.check.d", "error"),
    )


def test_hcl_unknown_variable_is_a_config_error() -> None:
    line = "08:21:54.975 ERROR  Unknown variable; There is no variable named 'var' in prod/dns/terragrunt.hcl"

    assert error_kind([line]) is ErrorKind.CONFIG


def test_error_from_diagnostics_uses_the_first_kind_that_matches() -> None:
    diagnostics = [
        Diagnostic("warning", "Deprecated attribute"),
        Diagnostic(
            "error", "Error acquiring the state lock", "ConditionalCheckFailedException", None, None, None
        ),
    ]

    error = error_from_diagnostics(diagnostics)

    assert error is not None and error.kind is ErrorKind.LOCK
    assert error.message == "Error: Error acquiring the state lock: ConditionalCheckFailedException"
    assert error_from_diagnostics(diagnostics[:1]) is None


def test_counts_of_changes() -> None:
    changes = [
        ResourceChange(f"r.{action}", action)
        for action in ("create", "update", "delete", "replace", "forget")
    ]

    assert counts_of(changes) == counts(add=1, change=2, destroy=1, replace=1)
