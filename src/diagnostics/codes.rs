//! The code registry: every diagnostic code with its title and long explanation.
//! `trestle explain` and docs/diagnostics.md are generated from this table, so they cannot drift.

/// A stable diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub title: &'static str,
    pub explanation: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $title:literal, $expl:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: Code = Code { code: $code, title: $title, explanation: $expl };
        )*
        /// Every code, in code order.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    // ---- T1xx: syntax ----
    KDL_SYNTAX = "T101", "KDL syntax error",
"The file is not a valid KDL v2 document. trestle points at the offending token; the other
files are still parsed and checked.

    workload api {
        replicas 2.      // error: a float needs digits after the dot
    }

KDL v2 writes booleans and null as `#true`, `#false` and `#null`, and strings that contain
spaces or punctuation in double quotes.";
    NOT_UTF8 = "T102", "spec file is not UTF-8",
"KDL documents are UTF-8 text. The file holds bytes that are not valid UTF-8; the position of
the first bad byte is shown. Re-save the file as UTF-8.";
    UNREADABLE = "T103", "spec file or folder cannot be read",
"A file or folder under ROOT could not be read (permissions, a broken symlink, a symlink loop).
Fix the file system entry or list it in `.trestleignore`.";
    TOO_DEEP = "T104", "spec nesting too deep",
"A KDL document nests children deeper than trestle accepts (64 levels). No spec needs this;
it is refused so that hostile input cannot exhaust the stack.";
    FILE_TOO_LARGE = "T105", "spec file too large",
"A spec file is larger than 16 MiB and is not parsed. Hand-written specs are kilobytes; a file
this large is usually generated or not a spec at all, and parsing it would take seconds to
minutes. Split it into several files, or list it in `.trestleignore`.";

    // ---- T2xx: schema and types ----
    UNKNOWN_NODE = "T201", "unknown node",
"A node name is not part of the language where it appears. The help line suggests the closest
known node.

    workload api {
        replicass 2      // error: unknown node `replicass`; did you mean `replicas`?
    }";
    UNKNOWN_PROPERTY = "T202", "unknown property",
"A `key=value` property is not accepted by this node.

    autoscale min=2 max=5 cpu=70   // error: unknown property `cpu`; did you mean `cpu-percent`?";
    WRONG_TYPE = "T203", "value has the wrong type",
"Values are typed: `replicas` takes an integer, `image` a string, `tls` a boolean.

    replicas \"2\"          // error: expected an integer
    image ghcr.io/x:1.4   // KDL reads this as an identifier string; quote it: \"ghcr.io/x:1.4\"";
    MISSING_FIELD = "T204", "missing required field",
"A required node or property is absent, e.g. a workload without `owner`, a container
without `image`, a waiver without `expires`.";
    DUPLICATE_FIELD = "T205", "duplicate field",
"A node that may appear once appears twice, or two children share a key that must be unique
(two containers named `main`, two env vars named `PORT`, two ports named `http`).
Both places are shown.";
    INVALID_NAME = "T206", "invalid name",
"Names of teams, domains, systems, workloads, resources, APIs and environments are RFC 1035
labels: lower-case letters, digits and `-`, starting with a letter, ending with a letter or
digit, at most 63 characters.

    workload Checkout_API { … }   // error; write `checkout-api`";
    NAME_TOO_LONG = "T207", "derived name too long",
"A Kubernetes or Backstage object name derived from spec names would exceed its limit
(63 characters; 52 for a CronJob, whose Jobs append a suffix). The message names the derived
object. Shorten the workload or resource name.";
    INVALID_QUANTITY = "T208", "invalid Kubernetes quantity",
"`cpu` and `memory` take Kubernetes quantities as strings: `\"250m\"`, `\"1\"`, `\"0.5\"`,
`\"256Mi\"`, `\"1Gi\"`. A request must not exceed its limit.";
    INVALID_PORT = "T209", "invalid port",
"Port names are IANA service names: at most 15 characters of lower-case letters, digits and
`-`, at least one letter, no leading, trailing or double `-`. Port numbers are 1 to 65535
and protocols `TCP` or `UDP`.";
    INVALID_ENV_NAME = "T210", "invalid environment variable name",
"Environment variable names are C identifiers: `[A-Za-z_][A-Za-z0-9_]*`. Names starting with
`TRESTLE_` are reserved for generated helper variables.";
    INVALID_CRON = "T211", "invalid cron schedule",
"`schedule` takes a five-field cron expression (minute hour day-of-month month day-of-week),
with `*`, ranges `a-b`, steps `*/n` and lists `a,b`, or a macro such as `@daily`.

    schedule \"0 3 * * *\"     // every day at 03:00";
    INVALID_PARAM = "T212", "invalid resource parameter",
"A resource parameter does not satisfy its declaration in the resource type: wrong type,
not one of `one-of`, below `min` or above `max`, or a required parameter is missing.";
    WRONG_ARGUMENTS = "T213", "wrong number of arguments",
"A node has too many or too few positional arguments, e.g. `replicas 2 3` or
`port http` without a number.";
    INVALID_ENUM = "T214", "value not allowed",
"The value must be one of a fixed set: environment `type` (development, staging, production),
`lifecycle` (experimental, production, deprecated), API `type` (openapi, asyncapi, grpc,
graphql), probe kinds, severities and policy targets.";
    INVALID_PLACEHOLDER = "T215", "malformed placeholder",
"Placeholders are written `${resources.NAME.OUTPUT}`, `${workload.name}`, `${env.name}`,
`${env.type}`, `${env.region}` or `${namespace}`. An unclosed `${`, an empty one or a
malformed path is an error. Write `$${` for a literal `${`.";
    CONFLICTING_FIELDS = "T216", "conflicting fields",
"Two fields cannot be combined: a scheduled workload has no `service`, `route` or
`autoscale`; a `file` has either `source=` or `content=`; `autoscale` needs a cpu request on
every container; `min` must not exceed `max`.";
    INVALID_WHEN = "T217", "invalid `when` block",
"`when` takes exactly one property, `env=NAME` or `env-type=TYPE`, and each value appears in at
most one `when` per workload. Only `replicas`, `container`, `service`, `route`, `autoscale`,
`resource`, `environments` and `tags` may be overridden. A `when` that selects only environments
the workload is not deployed to (by its `environments`, or a `when` that overrides them) never
applies: that is a warning.";
    RESERVED_NAME = "T218", "reserved name",
"The name is reserved: `catalog` cannot name an environment (it is the Backstage output
folder); `type`, `class` and `id` cannot name resource parameters.";
    INVALID_DATE = "T219", "invalid date",
"Dates are written `YYYY-MM-DD`, e.g. `expires=\"2027-03-31\"`.";
    INVALID_VALUE = "T220", "invalid value",
"A value is malformed for its field: an email without `@`, an empty image, a probe path not
starting with `/`, a file mode outside 0 to 0777, a route host that is not a DNS name, a
blank team or member `title` (it becomes a Backstage display name, which must not be empty).";
    MEMBER_CONFLICT = "T221", "member declared differently in two teams",
"A member listed in several teams is one Backstage User that is a member of each of them, so
its `email` and `title` must agree wherever they are given.

    team payments { member alice email=\"alice@acme.example\" }
    team platform { member alice email=\"alice@other.example\" }   // error

Give the same value in both places, or set it in one place only.";

    // ---- T3xx: names and references ----
    UNDEFINED_NAME = "T301", "undefined name",
"A reference names something that is not declared anywhere in the spec tree: an owner team,
a system, a domain, an environment, an API, a resource type or a `depends-on` workload.

    workload api { owner paymnts … }   // error: no team `paymnts`; did you mean `payments`?";
    DUPLICATE_NAME = "T302", "duplicate definition",
"Names are global across files: two declarations of the same kind with the same name are an
error. Both declarations are shown; rename or remove one.";
    UNKNOWN_REFERENCE = "T303", "unknown placeholder reference",
"A placeholder names a resource the workload does not declare, or an output its resource type
does not have. It would otherwise become an empty string at deploy time.

    env DB_HOST=\"${resources.db.hots}\"   // error: postgres has no output `hots`";
    PATH_ESCAPES_ROOT = "T304", "path escapes ROOT",
"Paths in specs (config files, templates, API definitions) are relative to the file that names
them and must stay inside ROOT after resolving `..` and symlinks, so a spec cannot read files
elsewhere on the machine.";
    FILE_NOT_FOUND = "T305", "referenced file not found",
"A path in a spec (a `file source=`, an API `definition`, a provisioner template) does not
exist or cannot be read.";
    UNKNOWN_RULE = "T306", "unknown rule or policy",
"A `rule` node names no built-in rule, or a `waiver` names neither a built-in rule nor a
`policy`. `trestle rules` lists the built-in rules.";
    RULE_ID_TAKEN = "T307", "policy reuses a built-in rule id",
"A `policy` may not have the id of a built-in rule; choose another name, or configure the
built-in rule with a `rule` node.";
    UNKNOWN_PORT = "T308", "unknown port reference",
"A probe `port=`, a service port `target=` or a route `port=` names a port that does not
exist: probes and service targets name container ports, routes name service ports.";
    UNKNOWN_SCOPE = "T309", "unknown waiver scope",
"A waiver scope (`workload=`, `resource=`, `env=`, `team=`, `api=`) names something that
does not exist.";

    // ---- T4xx: graph ----
    CYCLE = "T401", "dependency cycle",
"Workloads and resources form a cycle through `depends-on`, resource use or
resource-to-resource references (a param holding `${resources.NAME.OUTPUT}`, or Terraform
naming another instance's address). No deployment order exists; every edge of the cycle is
shown at its span. Break one edge.

    workload api    { …; depends-on worker }
    workload worker { …; depends-on api }     // error: api → worker → api

    resource a type=dns-record name=\"a.example.com\" target=\"${resources.b.fqdn}\"
    resource b type=dns-record name=\"b.example.com\" target=\"${resources.a.fqdn}\"

docs/graph.md describes the edges; `trestle graph ROOT --env E` draws them.";
    UNUSED = "T402", "declared but unused",
"A resource type declared in the tree that no workload requests (in any layer), or an API
that a workload provides (`provides-api`) and none consumes (`consumes-api`). This is
information, not an error: it never changes the exit code, and it is reported once for the
whole tree, not per environment.";
    SELF_DEPENDENCY = "T403", "workload depends on itself",
"A `depends-on` names the workload it is in.";

    // ---- T5xx: policy ----
    POLICY_VIOLATION = "T501", "policy violation",
"A custom `policy` failed. Such a finding carries the policy's name as its code (not T501) and
the policy's severity. The primary label is the spec item that produced the failing object
(for a rendered Kubernetes object or Terraform block: the workload or `resource` line); the
policy's declaration and its `assert` are related labels. Fix the spec, or add a `waiver` with
a reason and an expiry date.

    waiver trusted-registry workload=catalog-api expires=\"2027-06-30\" reason=\"PLAT-412: …\"";
    CEL_COMPILE = "T502", "CEL expression does not compile",
"A policy's `when`, `assert` or `message-expr` is not valid CEL, or uses a name other than
`object` and `env` (team and API policies have no `env`). The label points at the offending
character when the string has no escapes.

    assert \"object.replicas >= \"      // error: the expression ends too early
    assert \"obj.replicas >= 2\"        // error: unknown name `obj`; did you mean `object`?";
    CEL_EVAL = "T503", "CEL evaluation error",
"A policy expression failed at evaluation time: a missing field, a type mismatch, or a `when`
or `assert` that is not a bool. The note lists the items (and environments) it failed for.
Optional fields are absent when unset, so guard them:

    assert \"has(object.email) && object.email.endsWith('@acme.example')\"";
    WAIVER_EXPIRED = "T504", "expired waiver",
"The waiver's `expires` date has passed (it is inclusive). Renew it with a new reason, or fix
the finding. The date comes from `--today`, else `SOURCE_DATE_EPOCH`, else the clock.";
    WAIVER_UNUSED = "T505", "waiver matches nothing",
"No finding matches the waiver's rule and scope (`workload=`, `resource=`, `env=`, `team=`,
`api=` are AND-ed). Remove it, or fix its scope. Reported only when every environment is
compiled: with `--env`, findings elsewhere are unknown.";
    RULE_FINDING = "T506", "built-in rule finding",
"A built-in rule reported a finding. Such a finding carries the rule's id as its code (not
T506) and the severity its `rule` node sets; `trestle explain RULE-ID` describes the rule and
`trestle rules` lists them all.";

    // ---- T6xx: expansion, provisioning, templates ----
    NO_PROVISIONER = "T601", "no provisioner matches",
"No provisioner of the resource type matches this resource in this environment. Every
candidate is listed with its match lines. Add a `match` line or a provisioner.";
    AMBIGUOUS_PROVISIONER = "T602", "ambiguous provisioner match",
"Two provisioners match with the same best rank (compared by which of resource, env, workload,
env-type their matching line sets). Make one of them more specific.";
    TEMPLATE_ERROR = "T603", "template error",
"A provisioner template failed to compile or render: a syntax error, a missing variable
(templates run in strict mode), or triple-stash `{{{x}}}`, which would skip escaping.";
    TEMPLATE_OUTPUT_INVALID = "T604", "template renders invalid output",
"What a template rendered does not parse as HCL (for `.tf.hbs`) or YAML (for `.yaml.hbs`),
or an `expr=` output is not one HCL expression. The offending rendered line is shown.";
    SHARED_PARAMS_CONFLICT = "T605", "shared resource parameters disagree",
"Workloads that share a resource `id` share one instance, so their type, class and params must
agree. Both declarations are shown.";
    PROVISIONER_OUTPUTS = "T606", "provisioner outputs do not match the type",
"A provisioner defines every output of its type exactly once, with exactly one of `value=`,
`expr=` or `secret=`+`key=`, and no output the type does not declare.";
    SENSITIVE_PLAIN = "T607", "sensitive value in plain text",
"A sensitive output given with `value=`, or a secret-backed output (sensitive, `expr=` or
`secret=`) used in a `file`, would be written in plain text. Use `expr=` or `secret=`, or
read the value from an env var.

In a resource param, a `secret=` output cannot be used at all, and an `expr=` output is a
Terraform reference that only the `terraform` template may write (`{{x}}` in an HCL string,
`{{hcl x}}`): a `kubernetes` template or a provisioner's `value=` string that renders such a
param is this error too. Refer to a `value=` output instead (docs/graph.md).";
    TEMPLATE_KIND = "T608", "template kind and extension disagree",
"A `terraform` template must end in `.tf.hbs` and a `kubernetes` template in `.yaml.hbs`.";
    UNKNOWN_ENVIRONMENT = "T609", "override for an unknown environment",
"A `when env=` names no environment, or `when env-type=` a type no environment has.";
    TEMPLATE_TOO_LARGE = "T610", "template output too large",
"A provisioner template rendered more than 16 MiB for one resource instance, usually through
nested `{{#each}}` loops over large lists. trestle stops rendering it so that a template
cannot exhaust memory or fill the disk. Loop over less, or split the resource.";

    // ---- T7xx: output and I/O ----
    OUTPUT_CONFLICT = "T701", "file in the way",
"A file that trestle did not generate (it is not in `.trestle/manifest.json`) stands where a
generated file must go, and its bytes differ. trestle never overwrites foreign files; move it.";
    IO_ERROR = "T702", "I/O error",
"Reading the spec tree or writing the output failed.";
    PATH_COLLISION = "T703", "output paths collide",
"Two generated files would land on the same file: their paths are equal (a workload named
`namespace` next to the namespace's `namespace.yaml`), or differ only in letter case, which
collide on case-insensitive file systems (macOS, Windows). Rename one of the items.";
}

/// Look up a code by its id, case-insensitively.
pub fn lookup(code: &str) -> Option<Code> {
    ALL.iter()
        .copied()
        .find(|c| c.code.eq_ignore_ascii_case(code))
}
