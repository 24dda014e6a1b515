//! The rule catalogue: one table, read by the engine, the CLI's `--help` and the docs test.
//!
//! Each rule names the case-sensitive literals (its keywords) that must occur in a line before
//! its regex runs. Keywords list their casings explicitly (`token`, `Token`, `TOKEN`): an
//! ASCII-case-insensitive automaton would lose aho-corasick's SIMD prefilters (see
//! `docs/redaction.md`). Token formats are written so that a longer-than-usual token is still
//! redacted whole (`{36,}` rather than `{36}`): SECURITY: a leak of the tail is worse than a
//! redacted look-alike.

/// What kind of secret a rule finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// A provider's token format, recognizable on its own (prefix, length, charset).
    ProviderToken,
    /// A value next to a key whose name says it is secret (`password=...`, `"token": "..."`).
    KeyValue,
    /// An HTTP header value (`Authorization`, `Cookie`, `Set-Cookie`).
    Header,
    /// A secret inside a URL or a command line (userinfo, query parameters, `curl -u`).
    Url,
    /// Personal data; every rule of this category is opt-in.
    Pii,
    /// An exact value registered at runtime with `Redactor::register_secret`.
    Registered,
}

impl Category {
    /// A short lowercase name, as printed in the docs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderToken => "provider token",
            Self::KeyValue => "key-value",
            Self::Header => "header",
            Self::Url => "url",
            Self::Pii => "pii (opt-in)",
            Self::Registered => "registered",
        }
    }
}

/// How the secret part of a match is found and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extract {
    /// The capture group `s` (or `s2`), else the whole match.
    Group,
    /// A provider token: the capture group `s`, else the whole match, when it stands alone
    /// (no letter or digit right before or after it: not the middle of a longer identifier or
    /// base64 blob) and is not a placeholder (Shannon entropy below the rule's floor, such as
    /// `ghp_xxxx...` or `glpat-XXXX...`).
    Token,
    /// A provider token as [`Extract::Token`] that must also look random
    /// (`check::looks_random`): a format of letters and digits short enough for a word or an
    /// identifier to take its shape (`s.AcceptanceTimeoutSeconds`).
    RandomToken,
    /// URL userinfo in group `s`: the password after the first `:` when there is one (the
    /// user stays visible), else the whole userinfo (a user-only userinfo is often a token).
    UserInfo,
    /// Groups `k` (key) and `s` (value); the key must pass `keys::is_sensitive_key`, quotes
    /// around the value are kept, placeholder values are left alone.
    KeyValue,
    /// Group `s` is a `name=value; name=value` cookie list: every value is redacted.
    CookieList,
    /// Group `s` is a `Set-Cookie` value: the first pair's value is redacted, attributes kept.
    SetCookie,
    /// Groups `k` and `s`: the key must name a provider (`keys::names_provider`) and the value
    /// must look like a credential (`check::credential_shaped`).
    ProviderKeyValue,
    /// The whole match, when its digits pass the Luhn check (13 to 19 digits).
    Luhn,
    /// The whole match, when it passes the IBAN mod-97 check.
    Iban,
    /// The whole match, when it parses as an IP address (`std::net`).
    Ip,
}

/// When a rule's regex runs at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// When one of the rule's keywords occurs: the Teddy searchers, or for keywords holding
    /// an anchor byte (`ghp_`, `SK`, `s.`) a scan for that byte (`anchored`).
    Keywords,
    /// When this byte occurs (a `memchr` scan; one-byte keywords would slow the automaton).
    Byte(u8),
    /// On every line (opt-in PII rules whose matches have no literal anchor).
    Always,
}

/// One entry of the catalogue.
#[derive(Debug)]
pub(crate) struct RuleDef {
    pub(crate) id: &'static str,
    pub(crate) description: &'static str,
    pub(crate) category: Category,
    pub(crate) default_enabled: bool,
    pub(crate) keywords: &'static [&'static str],
    pub(crate) trigger: Trigger,
    pub(crate) pattern: &'static str,
    pub(crate) extract: Extract,
    /// The regex needs a key-value separator right after the name holding a keyword; the
    /// prefilter checks that first (`prefilter::separator_follows`).
    pub(crate) named: bool,
    /// For [`Extract::Token`]: the Shannon entropy (bits per character) below which a match is
    /// a placeholder and stays; for provider-keyed values, the same floor for the value.
    pub(crate) min_entropy: f32,
}

impl RuleDef {
    /// The same rule with another entropy floor (formats whose real values repeat characters).
    const fn with_min_entropy(mut self, min_entropy: f32) -> Self {
        self.min_entropy = min_entropy;
        self
    }
}

/// The entropy floor of provider tokens, in bits per character. Random tokens of 16
/// characters or more measure 3.5 and above; placeholders (`ghp_xxxx...`, `AKIAXXXX...`,
/// `glc_1111...`, `glpat-XXXX...`) measure 2 or less. The floor sits low in between on purpose:
/// a missed placeholder costs a marker, a missed token leaks (checked against the gitleaks
/// examples, `docs/redaction.md`).
const TOKEN_MIN_ENTROPY: f32 = 2.4;

const fn token(
    id: &'static str,
    description: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
) -> RuleDef {
    RuleDef {
        id,
        description,
        category: Category::ProviderToken,
        default_enabled: true,
        keywords,
        trigger: Trigger::Keywords,
        pattern,
        extract: Extract::Token,
        named: false,
        min_entropy: TOKEN_MIN_ENTROPY,
    }
}

/// The keywords of every rule keyed on a secret-sounding name, in the casings found in logs.
const SECRET_NAME_KEYWORDS: &[&str] = &[
    "pass", "Pass", "PASS", "pwd", "Pwd", "PWD", "secret", "Secret", "SECRET", "token", "Token",
    "TOKEN", "key", "Key", "KEY", "auth", "Auth", "AUTH", "cred", "Cred", "CRED", "ookie", "OOKIE",
    "sig", "Sig", "SIG", "ession", "ESSION",
];

/// The separator between a key and its value: `=`, `:`, `=>`, `:=`, with optional quotes and
/// JSON-escaped quotes around the key, and a little whitespace.
macro_rules! kv_sep {
    () => {
        r#"(?:\\["']|["'])?\s{0,3}(?:=>|:=|=|:)\s{0,3}"#
    };
}

/// An unquoted or quoted value after a separator. SECURITY: an unquoted value runs on over
/// `&`, `;`, `=` and `?` (a password may hold them); in a URL query the engine ends it at `&`.
macro_rules! kv_value {
    () => {
        r#"(?P<s>\\"(?:[^"\\]|\\[^"])*\\"|"(?:[^"\\\r\n]|\\.)*"|'[^'\r\n]*'|[^\s,"'<>(){}\[\]\\]+)"#
    };
}

/// Declares the provider names as prefilter keywords and as the key pattern of the
/// provider-keyed rule, from one list.
macro_rules! provider_names {
    ($first:literal $(, $rest:literal)* $(,)?) => {
        /// Provider names, lowercase: a key naming one (`twitter=`, `datadog_api_key:`,
        /// `mailgun: ...`) is secret-sounding. The families whose credentials have no format
        /// of their own (gitleaks recognises them by this name next to the value).
        pub(crate) const PROVIDER_NAMES: &[&str] = &[$first $(, $rest)*];

        const PROVIDER_PATTERN: &str = concat!(
            r"(?P<k>[A-Za-z0-9_.\-]{0,40}(?i:", $first, $("|", $rest,)*
            r")[A-Za-z0-9_.\-]{0,40}(?:[ \t][A-Za-z0-9_.\-]{1,20})?)",
            kv_sep!(),
            kv_value!()
        );
    };
}

provider_names!(
    "adafruit",
    "airtable",
    "algolia",
    "asana",
    "beamer",
    "bitbucket",
    "bittrex",
    "codecov",
    "coinbase",
    "confluent",
    "contentful",
    "contribsys",
    "CONTRIBSYS",
    "datadog",
    "discord",
    "droneci",
    "dropbox",
    "fastly",
    "finicity",
    "finnhub",
    "flickr",
    "freshbooks",
    "gitter",
    "gocardless",
    "heroku",
    "hubspot",
    "intercom",
    "jfrog",
    "kraken",
    "kucoin",
    "launchdarkly",
    "lob",
    "looker",
    "mailchimp",
    "mailgun",
    "mapbox",
    "mattermost",
    "messagebird",
    "netlify",
    "newrelic",
    "nytimes",
    "plaid",
    "rapidapi",
    "sendbird",
    "snyk",
    "sonar",
    "squarespace",
    "telegram",
    "travis",
    "twitch",
    "twitter",
    "typeform",
    "yandex",
    "zendesk",
);

/// The rule for values under a key naming a provider ([`PROVIDER_NAMES`]).
const fn provider_keyed() -> RuleDef {
    RuleDef {
        id: "provider-field",
        description: "Credential-shaped value (8 characters or more, not a plain word, not a placeholder) next to a key naming a provider (`twitter=`, `mailgun: key-...`, `newrelic_insert_key=`)",
        category: Category::KeyValue,
        default_enabled: true,
        keywords: PROVIDER_NAMES,
        trigger: Trigger::Keywords,
        pattern: PROVIDER_PATTERN,
        extract: Extract::ProviderKeyValue,
        named: false,
        // Placeholders such as `aaaa1111bbbb2222` measure 2 bits per character or less.
        min_entropy: 2.3,
    }
}

/// The catalogue, in application order: provider tokens first (the most specific ids), then
/// headers, URLs, context rules, the generic key-value rule, and the opt-in PII rules.
pub(crate) static RULES: &[RuleDef] = &[
    // --- Cloud providers -------------------------------------------------------------------
    token(
        "aws-access-key-id",
        "AWS access key id (AKIA/ASIA/ABIA/ACCA + 16 base32 characters)",
        &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        r"(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?-u:\b)",
    ),
    RuleDef {
        id: "aws-secret-access-key",
        description: "AWS secret access key (40 base64 characters) next to a name with `aws` and `secret`",
        category: Category::ProviderToken,
        default_enabled: true,
        keywords: &["aws", "AWS", "Aws"],
        trigger: Trigger::Keywords,
        pattern: concat!(
            r"(?i:aws)[A-Za-z0-9_.\-]{0,20}(?i:secret)[A-Za-z0-9_.\-]{0,20}",
            kv_sep!(),
            r#"(?:\\["']|["'])?(?P<s>[A-Za-z0-9/+=]{40,})"#
        ),
        named: true,
        extract: Extract::Group,
        min_entropy: 0.0,
    },
    token(
        "google-api-key",
        "Google API key (AIza + 35 characters)",
        &["AIza"],
        r"AIza[A-Za-z0-9_\-]{35}",
    ),
    token(
        "google-oauth-client-secret",
        "Google OAuth client secret (GOCSPX- + 28)",
        &["GOCSPX-"],
        r"GOCSPX-[A-Za-z0-9_\-]{28,}",
    ),
    token(
        "terraform-cloud-token",
        "Terraform Cloud / Enterprise API token (14 . atlasv1 . 60+)",
        &[".atlasv1."],
        r"(?-u:\b)[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,}",
    ),
    token(
        "digitalocean-pat",
        "DigitalOcean personal access token (dop_v1_ + 64 hex)",
        &["_v1_"],
        r"dop_v1_[a-f0-9]{64,}",
    ),
    token(
        "digitalocean-oauth-token",
        "DigitalOcean OAuth token (doo_v1_ + 64 hex)",
        &["_v1_"],
        r"doo_v1_[a-f0-9]{64,}",
    ),
    token(
        "digitalocean-refresh-token",
        "DigitalOcean refresh token (dor_v1_ + 64 hex)",
        &["_v1_"],
        r"dor_v1_[a-f0-9]{64,}",
    ),
    token(
        "databricks-token",
        "Databricks API token (dapi + 32 hex)",
        &["dapi"],
        r"(?-u:\b)dapi[a-f0-9]{32}(?:-[0-9])?(?-u:\b)",
    ),
    token(
        "heroku-api-key",
        "Heroku API key (HRKU-AA + 58 characters)",
        &["HRKU-"],
        r"HRKU-AA[A-Za-z0-9_\-]{58,}",
    ),
    token(
        "supabase-token",
        "Supabase access token (sbp_ + 40 hex)",
        &["sbp_"],
        r"(?-u:\b)sbp_[a-f0-9]{40,}",
    ),
    token(
        "planetscale-token",
        "PlanetScale password or token (pscale_pw_/pscale_tkn_/pscale_oauth_)",
        &["pscale_"],
        r"pscale_(?:pw|tkn|oauth)_[A-Za-z0-9=._\-]{32,}",
    ),
    token(
        "pulumi-token",
        "Pulumi access token (pul- + 40 hex)",
        &["pul-"],
        r"(?-u:\b)pul-[a-f0-9]{40,}",
    ),
    token(
        "tailscale-key",
        "Tailscale auth, API or OAuth client key (tskey-...)",
        &["tskey-"],
        r"tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9\-]{20,}",
    ),
    // --- Source hosting and CI ---------------------------------------------------------------
    token(
        "github-pat",
        "GitHub classic personal access token (ghp_ + 36)",
        &["ghp_"],
        r"ghp_[A-Za-z0-9]{36,}",
    ),
    token(
        "github-oauth-token",
        "GitHub OAuth access token (gho_ + 36)",
        &["gho_"],
        r"gho_[A-Za-z0-9]{36,}",
    ),
    token(
        "github-user-token",
        "GitHub App user-to-server token (ghu_ + 36)",
        &["ghu_"],
        r"ghu_[A-Za-z0-9]{36,}",
    ),
    token(
        "github-app-token",
        "GitHub App server-to-server token (ghs_ + 36)",
        &["ghs_"],
        r"ghs_[A-Za-z0-9]{36,}",
    ),
    token(
        "github-refresh-token",
        "GitHub refresh token (ghr_ + 36)",
        &["ghr_"],
        r"ghr_[A-Za-z0-9]{36,}",
    ),
    token(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token (github_pat_ + 82)",
        &["github_pat_"],
        r"github_pat_[A-Za-z0-9_]{60,}",
    ),
    token(
        "gitlab-pat",
        "GitLab personal access token (glpat-)",
        &["glpat-"],
        r"glpat-[A-Za-z0-9_.\-]{20,}",
    ),
    token(
        "gitlab-deploy-token",
        "GitLab deploy token (gldt-)",
        &["gldt-"],
        r"gldt-[A-Za-z0-9_.\-]{20,}",
    ),
    token(
        "gitlab-runner-token",
        "GitLab runner authentication token (glrt-)",
        &["glrt-"],
        r"glrt-[A-Za-z0-9_.\-]{20,}",
    ),
    token(
        "gitlab-ci-job-token",
        "GitLab CI/CD job token (glcbt-)",
        &["glcbt-"],
        r"glcbt-[A-Za-z0-9_.\-]{20,}",
    ),
    token(
        "gitlab-trigger-token",
        "GitLab pipeline trigger token (glptt- + 40 hex)",
        &["glptt-"],
        r"glptt-[a-f0-9]{40,}",
    ),
    token(
        "gitlab-oauth-secret",
        "GitLab OAuth application secret (gloas- + 64)",
        &["gloas-"],
        r"gloas-[A-Za-z0-9_\-]{64,}",
    ),
    token(
        "gitlab-runner-registration-token",
        "GitLab runner registration token (GR1348941 + 20)",
        &["GR1348941"],
        r"GR1348941[A-Za-z0-9_\-]{20,}",
    ),
    token(
        "atlassian-api-token",
        "Atlassian API token (ATATT3 + 180+)",
        &["ATATT3"],
        r"ATATT3[A-Za-z0-9_=\-]{100,}",
    ),
    token(
        "linear-api-key",
        "Linear API key (lin_api_ + 40)",
        &["lin_api_"],
        r"lin_api_[A-Za-z0-9]{40,}",
    ),
    token(
        "postman-api-key",
        "Postman API key (PMAK- + 24 hex - 34 hex)",
        &["PMAK-"],
        r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}",
    ),
    token(
        "figma-pat",
        "Figma personal access token (figd_ + 40)",
        &["figd_"],
        r"figd_[A-Za-z0-9_\-]{40,}",
    ),
    token(
        "docker-hub-pat",
        "Docker Hub personal access token (dckr_pat_)",
        &["dckr_pat_"],
        r"dckr_pat_[A-Za-z0-9_\-]{27,}",
    ),
    // --- Chat and messaging --------------------------------------------------------------------
    token(
        "slack-bot-token",
        "Slack bot token (xoxb-), also the legacy form with one numeric group",
        &["xox"],
        r"xoxb-[0-9]{10,13}-[0-9]{10,13}[A-Za-z0-9\-]*|xoxb-[0-9]{8,14}-[A-Za-z0-9]{18,26}",
    ),
    token(
        "slack-config-token",
        "Slack configuration token (xoxe.xoxb-/xoxe.xoxp-)",
        &["xox"],
        r"xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{100,}",
    ),
    token(
        "slack-user-token",
        "Slack user token (xoxp-/xoxe- + three numeric groups) or configuration refresh token (xoxe-<digit>-)",
        &["xox"],
        r"xox[pe](?:-[0-9]{10,13}){3}-[A-Za-z0-9\-]{28,}|xoxe-[0-9]-[A-Za-z0-9]{140,}",
    ),
    token(
        "slack-app-token",
        "Slack app-level token (xapp-)",
        &["xapp-"],
        r"xapp-[0-9]-[A-Za-z0-9\-]{20,}",
    ),
    token(
        "slack-legacy-token",
        "Slack legacy workspace, bot or app token (xoxa-, xoxr-, xoxo-, xoxs-)",
        &["xox"],
        r"xox[os]-[0-9]+-[0-9]+-[0-9]+-[A-Fa-f0-9]+|xox[ar]-(?:[0-9]-)?[0-9A-Za-z]{8,48}|xoxs-[0-9]{6,}-[0-9A-Za-z]{16,}",
    )
    // Legacy workspace tokens are short and often mostly digits.
    .with_min_entropy(2.0),
    token(
        "slack-webhook-url",
        "Slack incoming webhook path (hooks.slack.com/services/...)",
        &["hooks.slack.com"],
        r"hooks\.slack\.com/(?P<s>(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,})",
    ),
    token(
        "telegram-bot-token",
        "Telegram bot token (bot id : AA + 33)",
        &[":AA"],
        r"(?-u:\b)[0-9]{8,10}:AA[A-Za-z0-9_\-]{33,}",
    ),
    RuleDef {
        id: "twilio-api-key",
        description: "Twilio API key SID (SK + 32 hex)",
        category: Category::ProviderToken,
        default_enabled: true,
        keywords: &["SK"],
        trigger: Trigger::Keywords,
        pattern: r"(?-u:\b)SK[0-9a-fA-F]{32}(?-u:\b)",
        named: false,
        extract: Extract::Token,
        min_entropy: TOKEN_MIN_ENTROPY,
    },
    token(
        "sendgrid-api-key",
        "SendGrid API key (SG. + 22 . 43)",
        &["SG."],
        r"SG\.[A-Za-z0-9=_\-.]{66}",
    ),
    // --- Payments ------------------------------------------------------------------------------
    token(
        "stripe-secret-key",
        "Stripe secret key (sk_live_/sk_test_/sk_prod_)",
        &["k_live_", "k_test_", "k_prod_"],
        r"sk_(?:live|test|prod)_[A-Za-z0-9]{10,}",
    ),
    token(
        "stripe-restricted-key",
        "Stripe restricted key (rk_live_/rk_test_/rk_prod_)",
        &["k_live_", "k_test_", "k_prod_"],
        r"rk_(?:live|test|prod)_[A-Za-z0-9]{10,}",
    ),
    token(
        "stripe-webhook-secret",
        "Stripe webhook signing secret (whsec_)",
        &["whsec_"],
        r"whsec_[A-Za-z0-9+/=]{24,}",
    ),
    token(
        "square-access-token",
        "Square access token or application secret (EAAA, sq0atp-, sq0csp-)",
        &["EAA", "sq0"],
        r"(?-u:\b)(?:EAAA|sq0atp-|sq0csp-)[A-Za-z0-9_\-]{22,}",
    ),
    token(
        "shopify-access-token",
        "Shopify access token (shpat_ + 32 hex)",
        &["shp"],
        r"shpat_[a-fA-F0-9]{32,}",
    ),
    token(
        "shopify-custom-app-token",
        "Shopify custom app access token (shpca_ + 32 hex)",
        &["shp"],
        r"shpca_[a-fA-F0-9]{32,}",
    ),
    token(
        "shopify-private-app-token",
        "Shopify private app access token (shppa_ + 32 hex)",
        &["shp"],
        r"shppa_[a-fA-F0-9]{32,}",
    ),
    token(
        "shopify-shared-secret",
        "Shopify shared secret (shpss_ + 32 hex)",
        &["shp"],
        r"shpss_[a-fA-F0-9]{32,}",
    ),
    // --- AI providers --------------------------------------------------------------------------
    token(
        "openai-api-key",
        "OpenAI API key (sk-proj-/sk-svcacct-/sk-admin-, or the T3BlbkFJ marker)",
        &["T3BlbkFJ", "sk-proj-", "sk-svcacct-", "sk-admin-"],
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9_\-]*T3BlbkFJ[A-Za-z0-9_\-]+",
    ),
    token(
        "anthropic-api-key",
        "Anthropic API key (sk-ant-api03-)",
        &["sk-ant-"],
        r"sk-ant-api[0-9]{2}-[A-Za-z0-9_\-]{93}AA",
    ),
    token(
        "anthropic-admin-key",
        "Anthropic admin API key (sk-ant-admin01-)",
        &["sk-ant-"],
        r"sk-ant-admin[0-9]{2}-[A-Za-z0-9_\-]{93}AA",
    ),
    token(
        "huggingface-token",
        "Hugging Face access token (hf_ + 34)",
        &["hf_"],
        r"hf_[A-Za-z0-9]{34}",
    ),
    token(
        "huggingface-org-token",
        "Hugging Face organization token (api_org_ + 34)",
        &["api_org_"],
        r"api_org_[A-Za-z0-9]{34}",
    ),
    token(
        "groq-api-key",
        "Groq API key (gsk_ + 52)",
        &["gsk_"],
        r"(?-u:\b)gsk_[A-Za-z0-9]{52,}",
    ),
    token(
        "replicate-api-token",
        "Replicate API token (r8_ + 37)",
        &["r8_"],
        r"(?-u:\b)r8_[A-Za-z0-9]{37,}",
    ),
    token(
        "perplexity-api-key",
        "Perplexity API key (pplx- + 48)",
        &["pplx-"],
        r"pplx-[A-Za-z0-9]{48,}",
    ),
    token(
        "xai-api-key",
        "xAI API key (xai- + 80)",
        &["xai-"],
        r"(?-u:\b)xai-[A-Za-z0-9]{80,}",
    ),
    // --- Package registries --------------------------------------------------------------------
    token(
        "npm-access-token",
        "npm access token (npm_ + 36)",
        &["npm_"],
        r"(?-u:\b)npm_[A-Za-z0-9]{36,}",
    ),
    token(
        "pypi-upload-token",
        "PyPI upload token (pypi-AgEIcHlwaS5vcmc + 50+)",
        &["pypi-AgEIcHlwaS5vcmc"],
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",
    ),
    // --- Secret stores and observability -------------------------------------------------------
    token(
        "vault-service-token",
        "HashiCorp Vault service token (hvs.)",
        &["hvs."],
        r"(?-u:\b)hvs\.[A-Za-z0-9_\-]{24,}",
    ),
    token(
        "vault-batch-token",
        "HashiCorp Vault batch token (hvb.)",
        &["hvb."],
        r"(?-u:\b)hvb\.[A-Za-z0-9_\-]{24,}",
    ),
    RuleDef {
        id: "vault-legacy-service-token",
        description: "HashiCorp Vault service token in the format before Vault 1.10 (s. + 24 base62)",
        category: Category::ProviderToken,
        default_enabled: true,
        // PERF: a two-byte keyword, found by its `.` (`anchored`); the regex runs on lines with a word
        // ending in `s.` ("requests."), and only a standalone `s.` with exactly 24 letters and
        // digits after it is a token.
        keywords: &["s."],
        trigger: Trigger::Keywords,
        pattern: r"(?-u:\b)s\.[A-Za-z0-9]{24}(?-u:\b)",
        named: false,
        extract: Extract::RandomToken,
        min_entropy: TOKEN_MIN_ENTROPY,
    },
    token(
        "doppler-token",
        "Doppler token (dp.pt./dp.st./dp.sa./dp.ct.)",
        &["dp."],
        r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,}",
    ),
    token(
        "onepassword-service-token",
        "1Password service account token (ops_eyJ)",
        &["ops_eyJ"],
        r"ops_eyJ[A-Za-z0-9+/=_\-]{100,}",
    ),
    token(
        "age-secret-key",
        "age secret key (AGE-SECRET-KEY-1 + 58 bech32)",
        &["AGE-SECRET-KEY-1"],
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    )
    // The checksum-carrying bech32 body may repeat characters; the fixed prefix is proof enough.
    .with_min_entropy(1.0),
    token(
        "sentry-user-token",
        "Sentry user auth token (sntryu_ + 64 hex)",
        &["sntryu_"],
        r"sntryu_[a-f0-9]{64,}",
    ),
    token(
        "sentry-org-token",
        "Sentry organization auth token (sntrys_)",
        &["sntrys_"],
        r"sntrys_[A-Za-z0-9+/=_\-]{40,}",
    ),
    token(
        "grafana-cloud-token",
        "Grafana Cloud API token (glc_)",
        &["glc_"],
        r"(?-u:\b)glc_[A-Za-z0-9+/]{32,}={0,2}",
    ),
    token(
        "grafana-service-account-token",
        "Grafana service account token (glsa_ + 32 _ 8 hex)",
        &["glsa_"],
        r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
    ),
    token(
        "new-relic-user-key",
        "New Relic user API key (NRAK- + 27)",
        &["NRAK-"],
        r"NRAK-[A-Za-z0-9]{27,}",
    ),
    token(
        "notion-token",
        "Notion integration token (secret_ + 43, or ntn_ + 11 digits + 35)",
        &["secret", "ntn_"],
        r"secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{35}",
    ),
    // --- More provider formats (facts from the gitleaks catalogue, MIT; see docs) ------------
    token(
        "onepassword-secret-key",
        "1Password account secret key (A3- + 6 + 11 or 6-5 + 3 groups of 5)",
        &["A3-"],
        r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
    ),
    token(
        "adobe-client-secret",
        "Adobe client secret (p8e- + 32)",
        &["p8e-"],
        r"p8e-[A-Za-z0-9]{32}",
    ),
    token(
        "airtable-pat",
        "Airtable personal access token (pat + 14 . 64 hex)",
        &["airtable", "Airtable", "AIRTABLE"],
        r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}",
    ),
    token(
        "alibaba-access-key-id",
        "Alibaba Cloud access key id (LTAI + 20)",
        &["LTAI"],
        r"LTAI[A-Za-z0-9]{20}",
    ),
    token(
        "artifactory-api-key",
        "JFrog Artifactory API key (AKCp + 69)",
        &["AKCp"],
        r"AKCp[A-Za-z0-9]{69}",
    ),
    token(
        "artifactory-reference-token",
        "JFrog Artifactory reference token (cmVmd + 59)",
        &["cmVmd"],
        r"cmVmd[A-Za-z0-9]{59}",
    ),
    token(
        "authress-access-key",
        "Authress service client access key (sc_/ext_/scauth_/authress_ ... .acc_ ...)",
        &[".acc"],
        r"(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_\-][A-Za-z0-9\-]{10,32}\.[A-Za-z0-9+/_=\-]{30,120}",
    ),
    token(
        "aws-bedrock-api-key",
        "Amazon Bedrock API key: long-lived (ABSK + 109 to 269 base64) or short-lived (bedrock-api-key- + base64 of the endpoint)",
        &["ABSK", "bedrock-api-key-"],
        r"ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]*={0,2}",
    ),
    RuleDef {
        id: "azure-ad-client-secret",
        description: "Azure AD (Entra ID) client secret (3 characters, a digit, Q~, 31 to 34 more)",
        category: Category::ProviderToken,
        default_enabled: true,
        keywords: &["Q~"],
        trigger: Trigger::Keywords,
        pattern: r"(?:^|[^A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:$|[^A-Za-z0-9_~.\-])",
        named: false,
        extract: Extract::Token,
        min_entropy: TOKEN_MIN_ENTROPY,
    },
    token(
        "clickhouse-cloud-secret-key",
        "ClickHouse Cloud API secret key (4b1d + 38)",
        &["4b1d"],
        r"4b1d[A-Za-z0-9]{38}",
    ),
    token(
        "clojars-api-token",
        "Clojars deploy token (CLOJARS_ + 60)",
        &["CLOJARS_"],
        r"CLOJARS_[A-Za-z0-9]{60}",
    ),
    token(
        "cloudflare-origin-ca-key",
        "Cloudflare Origin CA key (v1.0- + 24 hex - 146 hex)",
        &["v1.0-"],
        r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}",
    ),
    token(
        "defined-networking-token",
        "Defined Networking API token (dnkey- + 26 - 52)",
        &["dnkey-"],
        r"dnkey-[A-Za-z0-9=_\-]{26}-[A-Za-z0-9=_\-]{52}",
    ),
    token(
        "duffel-api-token",
        "Duffel API token (duffel_test_/duffel_live_ + 43)",
        &["duffel_"],
        r"duffel_(?:test|live)_[A-Za-z0-9_=\-]{43}",
    ),
    token(
        "dynatrace-api-token",
        "Dynatrace API token (dt0c01. + 24 . 64)",
        &["dt0c01."],
        r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
    ),
    token(
        "easypost-api-key",
        "EasyPost production or test API key (EZAK/EZTK + 54)",
        &["EZAK", "EZTK"],
        r"EZ[AT]K[A-Za-z0-9]{54}",
    ),
    token(
        "facebook-page-access-token",
        "Facebook (Meta) page access token (EAAM/EAAC + 100 or more)",
        &["EAA"],
        r"EAA[MC][A-Za-z0-9]{100,}",
    ),
    token(
        "flutterwave-key",
        "Flutterwave secret, public or encryption key (FLWSECK/FLWPUBK)",
        &["FLW"],
        r"FLW(?:SECK|PUBK)(?:_TEST)?-[A-Ha-h0-9]{32}-X|FLWSECK(?:_TEST)?-[A-Ha-h0-9]{12}",
    ),
    token(
        "flyio-access-token",
        "Fly.io access token (fo1_ + 43, fm1a_/fm1r_/fm2_ + macaroon)",
        &["fo1_", "fm1", "fm2_"],
        r"fo1_[A-Za-z0-9_\-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3}",
    ),
    token(
        "frameio-api-token",
        "Frame.io API token (fio-u- + 64)",
        &["fio-u-"],
        r"fio-u-[A-Za-z0-9_=\-]{64}",
    ),
    token(
        "gitlab-token",
        "GitLab feed, incoming-mail, feature-flag, SCIM or Kubernetes agent token (glft-, glimt-, glffct-, glsoat-, glagent-)",
        &["glft-", "glimt-", "glffct-", "glsoat-", "glagent-"],
        r"gl(?:ft|ffct|soat)-[A-Za-z0-9_\-]{20}|glimt-[A-Za-z0-9_\-]{25}|glagent-[A-Za-z0-9_\-]{50}",
    ),
    token(
        "grafana-api-key",
        "Grafana API key (base64 JSON starting eyJrIjoi)",
        &["eyJ"],
        r"eyJrIjoi[A-Za-z0-9]{70,400}={0,3}",
    ),
    token(
        "harness-api-key",
        "Harness personal or service account token (pat./sat. + 22 . 24 . 20)",
        &["pat.", "sat."],
        r"(?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}",
    ),
    token(
        "infracost-api-token",
        "Infracost API token (ico- + 32)",
        &["ico-"],
        r"ico-[A-Za-z0-9]{32}",
    ),
    token(
        "intra42-client-secret",
        "42 intranet client secret (s-s4t2ud-/s-s4t2af- + 64 hex)",
        &["s-s4t2"],
        r"s-s4t2(?:ud|af)-[a-fA-F0-9]{64}",
    ),
    token(
        "jwt-base64",
        "A JSON Web Token encoded in base64 once more (ZXlK, the encoding of eyJ)",
        &["ZXlK"],
        r"ZXlK[A-Za-z0-9+/_\-]{40,}={0,2}",
    ),
    token(
        "maxmind-license-key",
        "MaxMind license key (6 _ 29 _mmk)",
        &["_mmk"],
        r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk",
    ),
    token(
        "microsoft-teams-webhook",
        "Microsoft Teams incoming webhook path (the host stays visible)",
        &["webhook.office.com"],
        r"[a-z0-9]+\.webhook\.office\.com/webhookb2/(?P<s>[a-z0-9\-]{36}@[a-z0-9\-]{36}/IncomingWebhook/[a-z0-9]{32}/[a-z0-9\-]{36})",
    ),
    token(
        "new-relic-key",
        "New Relic browser API token (NRJS- + 19 hex) or insert key (NRII- + 32)",
        &["NRJS-", "NRII-"],
        r"NRJS-[a-f0-9]{19}|NRII-[A-Za-z0-9\-]{32}",
    ),
    token(
        "octopus-deploy-api-key",
        "Octopus Deploy API key (API- + 26 upper-case)",
        &["API-"],
        r"API-[A-Z0-9]{26}",
    ),
    token(
        "openshift-user-token",
        "OpenShift user token (sha256~ + 43)",
        &["sha256~"],
        r"sha256~[A-Za-z0-9_\-]{43}",
    ),
    token(
        "prefect-api-token",
        "Prefect API token (pnu_ + 36)",
        &["pnu_"],
        r"pnu_[A-Za-z0-9]{36}",
    ),
    token(
        "readme-api-token",
        "ReadMe API token (rdme_ + 70)",
        &["rdme_"],
        r"rdme_[a-z0-9]{70}",
    ),
    token(
        "rubygems-api-token",
        "RubyGems API token (rubygems_ + 48 hex)",
        &["rubygems_"],
        r"rubygems_[a-f0-9]{48}",
    ),
    token(
        "scalingo-api-token",
        "Scalingo API token (tk-us- + 48)",
        &["tk-us-"],
        r"tk-us-[A-Za-z0-9_\-]{48}",
    ),
    token(
        "sendinblue-api-token",
        "Brevo (Sendinblue) API key (xkeysib- + 64 hex - 16)",
        &["xkeysib-"],
        r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",
    ),
    token(
        "settlemint-token",
        "SettleMint application, personal or service access token (sm_aat_/sm_pat_/sm_sat_ + 16)",
        &["sm_"],
        r"sm_[aps]at_[A-Za-z0-9]{16}",
    ),
    token(
        "shippo-api-token",
        "Shippo API token (shippo_live_/shippo_test_ + 40 hex)",
        &["shippo_"],
        r"shippo_(?:live|test)_[a-fA-F0-9]{40}",
    ),
    token(
        "sourcegraph-access-token",
        "Sourcegraph access token (sgp_ + 40 hex, or sgp_<16 hex or local>_ + 40 hex)",
        &["sgp_"],
        r"sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}|sgp_[a-fA-F0-9]{40}",
    ),
    // --- Values under a key naming a provider --------------------------------------------------
    provider_keyed(),
    // --- Generic formats -----------------------------------------------------------------------
    token(
        "jwt",
        "JSON Web Token (eyJ... . eyJ... . signature)",
        &["eyJ"],
        r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    ),
    token(
        "private-key",
        "PEM/OpenSSH/PGP private key block, also with newlines escaped as \\n; redacted to the end of the text when the END line is missing",
        // PERF: `PRIVATE`, not `-----BEGIN`: a row of dashes in a log line matched the Teddy
        // fingerprint `----` at every byte, and each match cost a verification.
        &["PRIVATE"],
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:(?s:.){64,}?-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|(?:[^-]|-[^-])*\z)",
    ),
    // --- Headers ---------------------------------------------------------------------------------
    RuleDef {
        id: "authorization",
        description: "`Authorization` and `Proxy-Authorization` credentials, any scheme (the scheme name stays visible when known)",
        category: Category::Header,
        default_enabled: true,
        keywords: &["auth", "Auth", "AUTH"],
        trigger: Trigger::Keywords,
        pattern: concat!(
            r"(?i:authorization)",
            kv_sep!(),
            r#"(?:\\["']|["'])?(?:(?i:bearer|basic|token|digest|negotiate|ntlm|hoba|mutual|apikey|sso-key|dpop|gnap|otp|aws4-hmac-sha256)[ \t]+(?P<s>[^\s"'\\,;]+)|(?P<s2>[^\s"'\\,;]+(?:[ \t]+[A-Za-z0-9._~+/=\-]{8,})?))"#
        ),
        named: true,
        extract: Extract::Group,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "set-cookie",
        description: "`Set-Cookie` value (the cookie's value; attributes such as `Path` stay)",
        category: Category::Header,
        default_enabled: true,
        keywords: &["ookie", "OOKIE"],
        trigger: Trigger::Keywords,
        pattern: concat!(
            r"(?i:set-cookie)",
            kv_sep!(),
            r#"(?:\\["']|["'])?(?P<s>[^\r\n"'\\]+)"#
        ),
        named: true,
        extract: Extract::SetCookie,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "cookie",
        description: "`Cookie` header: every cookie value (names stay)",
        category: Category::Header,
        default_enabled: true,
        keywords: &["ookie", "OOKIE"],
        trigger: Trigger::Keywords,
        pattern: concat!(
            r"(?:^|[^A-Za-z0-9_\-])(?i:cookie)",
            kv_sep!(),
            r#"(?:\\["']|["'])?(?P<s>[^\r\n"'\\]+)"#
        ),
        named: true,
        extract: Extract::CookieList,
        min_entropy: 0.0,
    },
    // --- URLs and command lines -------------------------------------------------------------------
    RuleDef {
        id: "url-userinfo",
        description: "Credentials in URL userinfo, any scheme: the password of `user:password@`, `:password@` (empty user), percent-encoded or not; a user-only userinfo (`token@host`) whole",
        category: Category::Url,
        default_enabled: true,
        keywords: &["://"],
        trigger: Trigger::Keywords,
        // The userinfo ends at the last `@` before the host, so a raw `@` in a password is kept
        // inside it.
        pattern: r#"[A-Za-z][A-Za-z0-9+.\-]{0,20}://(?P<s>[^\s/?#"'<>\\]{1,256})@[^\s/?#@"'<>\\]"#,
        named: false,
        extract: Extract::UserInfo,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "url-query-secret",
        description: "Sensitive URL query parameter (`token`, `access_token`, `key`, `signature`, `X-Amz-Signature`, `code`, ...)",
        category: Category::Url,
        default_enabled: true,
        keywords: &[
            "token", "Token", "TOKEN", "key", "Key", "KEY", "sig", "Sig", "SIG", "pass", "Pass",
            "PASS", "pwd", "secret", "Secret", "SECRET", "auth", "Auth", "code=", "jwt=", "ession",
            "cred", "Cred",
        ],
        trigger: Trigger::Keywords,
        pattern: r#"[?&;](?P<k>(?i:[a-z0-9_.\-]{0,40}(?:token|key|sig|signature|secret|pass|pwd|auth|code|jwt|credential|session)[a-z0-9_.\-]{0,40}))=(?P<s>[^&\s#"'<>\\]+)"#,
        named: true,
        extract: Extract::KeyValue,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "curl-user",
        description: "Password in `curl -u user:password` / `--user`",
        category: Category::Url,
        default_enabled: true,
        keywords: &["curl"],
        trigger: Trigger::Keywords,
        pattern: r#"curl(?-u:\b)[^\r\n]*?\s(?:-u|--user)(?:[ \t]+|=)?["']?[^\s:"'\\]+:(?P<s>[^\s"'\\]+)"#,
        named: false,
        extract: Extract::Group,
        min_entropy: 0.0,
    },
    // --- Key-value pairs ---------------------------------------------------------------------------
    RuleDef {
        id: "secret-field",
        description: "Value next to a secret-sounding key (`password`, `secret`, `token`, `api_key`, `*_KEY`, `credentials`, ...) in `k=v`, `k: v`, `\"k\": \"v\"` form; also JSON members and tracing fields by name",
        category: Category::KeyValue,
        default_enabled: true,
        keywords: SECRET_NAME_KEYWORDS,
        trigger: Trigger::Keywords,
        pattern: concat!(
            r"(?P<k>[A-Za-z0-9_.\-]{0,40}(?i:pass|pwd|secret|token|key|auth|cred|cookie|sig|session)[A-Za-z0-9_.\-]{0,40})",
            kv_sep!(),
            kv_value!()
        ),
        named: true,
        extract: Extract::KeyValue,
        min_entropy: 0.0,
    },
    // --- Opt-in PII --------------------------------------------------------------------------------
    RuleDef {
        id: "email",
        description: "Email address",
        category: Category::Pii,
        default_enabled: false,
        keywords: &[],
        trigger: Trigger::Byte(b'@'),
        pattern: r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}",
        named: false,
        extract: Extract::Group,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "ipv4",
        description: "IPv4 address",
        category: Category::Pii,
        default_enabled: false,
        keywords: &[],
        trigger: Trigger::Byte(b'.'),
        pattern: r"(?-u:\b)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?-u:\b)",
        named: false,
        extract: Extract::Ip,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "ipv6",
        description: "IPv6 address (checked with the standard library's parser)",
        category: Category::Pii,
        default_enabled: false,
        keywords: &[],
        trigger: Trigger::Byte(b':'),
        pattern: r"(?-u:\b)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::[0-9]{1,3}(?:\.[0-9]{1,3}){3})?",
        named: false,
        extract: Extract::Ip,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "card-number",
        description: "Payment card number (13 to 19 digits, spaces or dashes allowed, Luhn-checked)",
        category: Category::Pii,
        default_enabled: false,
        keywords: &[],
        trigger: Trigger::Always,
        pattern: r"(?-u:\b)[0-9](?:[ \-]?[0-9]){12,18}(?-u:\b)",
        named: false,
        extract: Extract::Luhn,
        min_entropy: 0.0,
    },
    RuleDef {
        id: "iban",
        description: "IBAN (country code, check digits, account; mod-97 checked)",
        category: Category::Pii,
        default_enabled: false,
        keywords: &[],
        trigger: Trigger::Always,
        pattern: r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?-u:\b)",
        named: false,
        extract: Extract::Iban,
        min_entropy: 0.0,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_ids_are_unique() {
        let mut ids = std::collections::BTreeSet::new();
        for rule in RULES {
            assert!(ids.insert(rule.id), "duplicate rule id {}", rule.id);
            regex::Regex::new(rule.pattern)
                .unwrap_or_else(|error| panic!("rule {} does not compile: {error}", rule.id));
            assert!(
                rule.id.len() <= crate::marker::MAX_RULE_ID_LEN,
                "rule id {} is too long for the marker bound",
                rule.id
            );
        }
        assert!(
            RULES.len() <= crate::rule_set::CAPACITY,
            "the candidate set holds {} rules",
            crate::rule_set::CAPACITY
        );
    }

    #[test]
    fn keywords_have_three_bytes_or_an_anchor_and_cannot_hide_in_a_skipped_prefix() {
        /// The words of the fixed prefixes: the level names and the JSON prefix's keys.
        const PREFIX_WORDS: [&str; 7] = [
            "INFO",
            "WARN",
            "ERROR",
            "DEBUG",
            "TRACE",
            "level",
            "timestamp",
        ];
        for rule in RULES {
            match rule.trigger {
                Trigger::Keywords => {
                    assert!(!rule.keywords.is_empty(), "{}", rule.id);
                }
                Trigger::Byte(_) | Trigger::Always => {
                    assert!(rule.keywords.is_empty(), "{}", rule.id);
                    assert_eq!(rule.category, Category::Pii, "{}", rule.id);
                }
            }
            for keyword in rule.keywords {
                // Three bytes or more keep the Teddy searchers' fingerprints selective; shorter
                // keywords are found through their anchor byte (`anchored`), which needs a byte
                // before it in the keyword.
                assert!(
                    keyword.len() >= 3 || crate::anchored::anchor_of(keyword).is_some(),
                    "{}: keyword {keyword:?} is too short",
                    rule.id
                );
                // The fixed prefixes a scan skips (`prefilter::json_fixed_prefix`,
                // `prefilter::text_fixed_prefix`) are a time, a level name and structure, and
                // end in `",` or a space: no keyword may hold a quote or a space (so none
                // starts inside a prefix and ends after it), be spelled with time bytes only,
                // or sit inside a level name.
                assert!(
                    !keyword.contains(['"', ' ', '\t']),
                    "{}: keyword {keyword:?} holds a quote or a space",
                    rule.id
                );
                assert!(
                    !keyword
                        .bytes()
                        .all(|byte| byte.is_ascii_digit() || b"-:.+TZ".contains(&byte)),
                    "{}: keyword {keyword:?} could be part of a time",
                    rule.id
                );
                for word in PREFIX_WORDS {
                    assert!(
                        !word.contains(keyword),
                        "{}: keyword {keyword:?} is part of {word:?}",
                        rule.id
                    );
                }
            }
        }
    }

    #[test]
    fn there_are_at_least_forty_provider_token_rules() {
        let count = RULES
            .iter()
            .filter(|rule| rule.category == Category::ProviderToken)
            .count();
        assert!(count >= 40, "only {count} provider token rules");
    }
}
