"""driftctl.redact: secrets masked line by line before anything is kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftctl.redact import MASK, Redactor, sensitive_values

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GITLAB_TOKEN = "glpat-" + "xY9_zA8-bC7dE6fG5hI4"
SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    return Redactor(environ or {}).line(text)


# ---- patterns ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'Error: Get "https://deploy:s3cr3t-pa55@registry.example.com/v1/providers": EOF',
            'Error: Get "https://***@registry.example.com/v1/providers": EOF',
        ),
        (
            "git::https://oauth2:abcdefgh12345678@gitlab.example.com/infra/modules.git?ref=v1",
            "git::https://***@gitlab.example.com/infra/modules.git?ref=v1",
        ),
        ("postgres://app:hunter2@db.internal:5432/app", "postgres://***@db.internal:5432/app"),
        ("https://registry.example.com/v1/providers", "https://registry.example.com/v1/providers"),
        ("https://just-a-user@example.com/x", "https://just-a-user@example.com/x"),
    ],
)
def test_url_userinfo(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"aws_access_key_id={AWS_KEY_ID}",
        f"InvalidClientTokenId: The security token {AWS_KEY_ID} is invalid",
        "ASIAY34FZKBOKMUTVV7A was used",
        f"key: {AWS_KEY_ID},",
    ],
)
def test_aws_access_key_ids(text: str) -> None:
    result = redact(text)

    assert "AKIA" not in result and "ASIA" not in result
    assert MASK in result


def test_aws_look_alikes_are_kept() -> None:
    assert redact("AKIAshort and XAKIAIOSFODNN7EXAMPLEX") == "AKIAshort and XAKIAIOSFODNN7EXAMPLEX"


@pytest.mark.parametrize(
    "token",
    [
        GITHUB_TOKEN,
        "gho_" + "A" * 36,
        "ghu_" + "b" * 36,
        "ghs_" + "1" * 36,
        "ghr_" + "Z9" * 18,
        GITLAB_TOKEN,
        SLACK_TOKEN,
        "xoxp-11111111111-22222222222",
        "xoxa-2-abcdefghijkl",
    ],
)
def test_vendor_tokens(token: str) -> None:
    line = f'Error: source "git::https://github.com/acme/x.git" failed with token {token} (401)'

    result = redact(line)

    assert token not in result
    assert result == line.replace(token, MASK)


def test_token_prefixes_alone_are_kept() -> None:
    assert redact("ghp_short glpat-short xoxb-short") == "ghp_short glpat-short xoxb-short"


def test_github_fine_grained_token() -> None:
    token = (
        "github_pat_11ABCDEFG0123456789abc_" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"
    )

    assert token not in redact(f"remote: using {token}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", f"Authorization: Bearer {MASK}"),
        (f"authorization: bearer {JWT}", f"authorization: bearer {MASK}"),
        (
            "-H 'Authorization: Bearer abcdefgh12345678' https://x",
            f"-H 'Authorization: Bearer {MASK}' https://x",
        ),
        ("Bearer short", "Bearer short"),
    ],
)
def test_bearer_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('password = "hunter22"', f'password = "{MASK}"'),
        ('      + password = "hunter22"', f'      + password = "{MASK}"'),
        ('  ~ db_password = "old-value" -> "new-value"', f'  ~ db_password = "{MASK}" -> "new-value"'),
        ("PASSWORD=hunter22", f"PASSWORD={MASK}"),
        ("passwd: hunter22", f"passwd: {MASK}"),
        ('{"password":"hunter22","user":"me"}', f'{{"password":"{MASK}","user":"me"}}'),
        ("{'secret': 'abcd1234'}", f"{{'secret': '{MASK}'}}"),
        ("api_key=abcd1234", f"api_key={MASK}"),
        ("api-key: abcd1234", f"api-key: {MASK}"),
        ("apikey=abcd1234", f"apikey={MASK}"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            f"aws_secret_access_key = {MASK}",
        ),
        ("private_key: abcdefgh", f"private_key: {MASK}"),
        ("token=abcdefgh", f"token={MASK}"),
        ("Secret : abcdefgh", f"Secret : {MASK}"),
    ],
)
def test_key_value_secrets_keep_the_key(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'password = "abc"',  # too short to be worth masking
        "      + password_length = 16",
        "      + token_ttl       = 3600",
        "  # aws_secretsmanager_secret.db will be created",
        '  + resource "aws_iam_access_key" "ci" {',
        "Plan: 1 to add, 0 to change, 0 to destroy.",
        '      + ami                          = "ami-0c55b159cbfcf0c3a"',
        "null_resource.thing: Refreshing state... [id=4992197359354952672]",
        "      + tags = {}",
    ],
)
def test_ordinary_plan_lines_are_untouched(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    ['password = "correct horse battery staple"', '"password": "p4ss,w0rd!"'],
)
def test_quoted_values_are_masked_whole(text: str) -> None:
    result = redact(text)

    assert "horse" not in result and "w0rd" not in result


# ---- environment values ----


SECRET_ENV = {
    "DB_PASSWORD": "correct-horse-battery",
    "GITHUB_TOKEN": "tok_7d0a1c4e9b",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ARM_CLIENT_SECRET": "s3cr3t~value.with+special(chars)",
    "TF_VAR_api_key": "k-1234567",
    "my_private_key": "lower-case-name",
    "VAULT_AUTH": "vault-auth-123",
    "DOCKER_PASSWD": "pa55wd-123",
    "GOOGLE_CREDENTIALS": "creds-blob-0001",
    "DRIFTCTL_SLACK_WEBHOOK_URL": "https://chat.example/hooks/abc123",
    "HOME": "/home/runner",
    "TF_VAR_region": "eu-west-1-region",
}


@pytest.mark.parametrize("name", [n for n in SECRET_ENV if n not in ("HOME", "TF_VAR_region")])
def test_secret_env_values_are_masked(name: str) -> None:
    value = SECRET_ENV[name]

    result = redact(f"Error: invalid value {value} for argument; was {value}!", SECRET_ENV)

    assert value not in result
    assert result == f"Error: invalid value {MASK} for argument; was {MASK}!"


def test_slack_webhook_urls_are_masked() -> None:
    line = "POST https://hooks.slack.com/services/T0001/B0002/xYz123 failed"
    assert redact(line) == "POST https://hooks.slack.com/services/*** failed"


def test_non_secret_env_values_are_kept() -> None:
    text = "cd /home/runner && deploy to eu-west-1-region"

    assert redact(text, SECRET_ENV) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12345", "count 12345 items"),
        ("true", "count true items"),
        ("", "count  items"),
        ("123456", f"count {MASK} items"),
    ],
)
def test_short_env_values_are_not_masked(value: str, expected: str) -> None:
    assert redact(f"count {value} items", {"API_TOKEN": value}) == expected


def test_longest_env_secret_is_masked_whole() -> None:
    environ = {"SHORT_TOKEN": "abcdef", "LONG_TOKEN": "abcdef-and-more"}

    assert redact("x abcdef-and-more y abcdef z", environ) == f"x {MASK} y {MASK} z"


# ---- PEM blocks ----


PEM = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB",
    "aFDrBz9vFqU4yN0Qj+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcdefgh",
    "-----END RSA PRIVATE KEY-----",
]


@pytest.mark.parametrize(
    "kind",
    ["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"],
)
def test_pem_private_key_blocks_are_masked_across_lines(kind: str) -> None:
    redactor = Redactor({})
    block = [line.replace("RSA PRIVATE KEY", kind) for line in PEM]
    lines = ["Error: bad key:", *block, "after the key", "  private_key_pem = (sensitive value)"]

    result = [redactor.line(line) for line in lines]

    assert result == ["Error: bad key:", MASK, MASK, MASK, MASK, "after the key", lines[-1]]


def test_state_resets_after_end_for_a_second_block() -> None:
    redactor = Redactor({})
    lines = ["a", *PEM, "b", *PEM, "c"]

    result = [redactor.line(line) for line in lines]

    assert result == ["a", *[MASK] * 4, "b", *[MASK] * 4, "c"]


def test_pem_begin_and_end_on_one_line() -> None:
    redactor = Redactor({})
    one_line = '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n",'

    assert [redactor.line(one_line), redactor.line("next line")] == [MASK, "next line"]


def test_pem_with_text_around_it_masks_the_whole_line() -> None:
    redactor = Redactor({})

    assert redactor.line('  + key = "-----BEGIN OPENSSH PRIVATE KEY-----') == MASK
    assert redactor.line("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ") == MASK
    assert redactor.line('-----END OPENSSH PRIVATE KEY-----"') == MASK
    assert redactor.line("  }") == "  }"


def test_certificates_and_public_keys_are_not_masked() -> None:
    redactor = Redactor({})
    lines = [
        "-----BEGIN CERTIFICATE-----",
        "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa",
        "-----END CERTIFICATE-----",
    ]

    assert [redactor.line(line) for line in lines] == lines
    assert redactor.line("-----BEGIN PUBLIC KEY-----") == "-----BEGIN PUBLIC KEY-----"


def test_text_masks_a_whole_document_and_keeps_line_count() -> None:
    document = "\n".join(["start", *PEM, f"token={GITHUB_TOKEN}", "end", ""])

    result = Redactor({}).text(document)

    assert result.split("\n") == ["start", MASK, MASK, MASK, MASK, f"token={MASK}", "end", ""]


def test_redactors_do_not_share_pem_state() -> None:
    first, second = Redactor({}), Redactor({})
    first.line(PEM[0])

    assert second.line("plain") == "plain"
    assert first.line("inside") == MASK


# ---- properties ----

SECRET_NAMES = st.sampled_from(
    ["GITHUB_TOKEN", "DB_PASSWORD", "ARM_CLIENT_SECRET", "TF_VAR_api_key", "VAULT_AUTH", "x_credential_y"]
)
# `*` is left out: a secret made of the mask's own character could be re-formed by the mask itself
SECRET_VALUES = st.text(
    alphabet=st.characters(exclude_characters="*", exclude_categories=["Cs"]), min_size=6, max_size=40
)
SURROUNDINGS = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(name=SECRET_NAMES, secret=SECRET_VALUES, before=SURROUNDINGS, after=SURROUNDINGS)
def test_a_secret_env_value_never_survives(name: str, secret: str, before: str, after: str) -> None:
    result = Redactor({name: secret, "PATH": "/usr/bin"}).line(before + secret + after)

    assert secret not in result


@settings(max_examples=200, deadline=None)
@given(
    secrets=st.dictionaries(SECRET_NAMES, SECRET_VALUES, min_size=1, max_size=4),
    pieces=st.lists(SURROUNDINGS, min_size=1, max_size=5),
    data=st.data(),
)
def test_no_secret_of_several_survives(
    secrets: dict[str, str], pieces: list[str], data: st.DataObject
) -> None:
    values = list(secrets.values())
    text = "".join(piece + data.draw(st.sampled_from(values)) for piece in pieces)

    result = Redactor(secrets).line(text)

    assert all(value not in result for value in values)


# ---- escaped and encoded forms, values a plan marks sensitive ----


@pytest.mark.parametrize(
    "printed",
    [
        'Quo\\"te\\\\Secret-77',  # JSON / HCL string escapes, as Terraform prints values
        "Quo%22te%5CSecret-77",  # urlencode(), Go's url.QueryEscape
        "Quo%22te%5cSecret-77",  # lower-case percent escapes
        'Quo\\\\\\"te\\\\\\\\Secret-77',  # JSON inside a JSON string
    ],
)
def test_escaped_forms_of_a_secret_are_masked(printed: str) -> None:
    result = redact(f'  + "value" = "{printed}"', {"MY_SECRET": 'Quo"te\\Secret-77'})
    assert result == f'  + "value" = "{MASK}"'


def test_go_json_and_template_escapes_are_masked() -> None:
    environ = {"API_TOKEN": "a<b>&c${x}%{y}"}
    assert redact('"a\\u003cb\\u003e\\u0026c${x}%{y}"', environ) == f'"{MASK}"'
    assert redact('"a<b>&c$${x}%%{y}"', environ) == f'"{MASK}"'


def test_each_line_of_a_multi_line_secret_is_masked() -> None:
    redactor = Redactor({"DB_PASSWORD": "first-line-1\nsecond-line-2"})
    assert [redactor.line(line) for line in ("first-line-1", "second-line-2")] == [MASK, MASK]


def test_with_values_adds_values_and_keeps_the_environment_ones() -> None:
    base = Redactor({"MY_SECRET": "from-the-env"})
    extended = base.with_values(["from-the-plan"])
    assert extended.line("from-the-env from-the-plan") == f"{MASK} {MASK}"
    assert base.line("from-the-plan") == "from-the-plan"


def test_sensitive_values_of_a_plan_document() -> None:
    """The shape of Terraform's `show -json` (format 1.0): marked attributes, outputs, variables."""
    document = {
        "format_version": "1.0",
        "variables": {"db_pass": {"value": "variable-secret"}, "region": {"value": "eu-west-1"}},
        "configuration": {"root_module": {"variables": {"db_pass": {"sensitive": True}, "region": {}}}},
        "resource_changes": [
            {
                "address": "null_resource.r",
                "change": {
                    "before": {"triggers": {"pass": "old-secret", "name": "public-name"}},
                    "after": {
                        "triggers": {"pass": "new-secret", "name": "public-name"},
                        "list": ["a-secret-item"],
                    },
                    "before_sensitive": {"triggers": {"pass": True}},
                    "after_sensitive": {"triggers": {"pass": True}, "list": [True]},
                },
            }
        ],
        "prior_state": {
            "values": {
                "outputs": {"out": {"sensitive": True, "value": {"nested": 123456}}},
                "root_module": {
                    "resources": [
                        {"values": {"key": "state-secret", "id": "1"}, "sensitive_values": {"key": True}}
                    ]
                },
            }
        },
    }
    assert sensitive_values(document) == {
        "variable-secret",
        "old-secret",
        "new-secret",
        "a-secret-item",
        "123456",
        "state-secret",
    }
