//! Writes a synthetic but realistic spec tree for benchmarks and scale tests.
//!
//! ```text
//! cargo run --release --example gen -- N DIR
//! ```
//!
//! N workloads across N/20 teams, N/10 systems and N/200 domains, in three environments
//! (dev, staging, prod, each with a `terraform` block). Workloads use containers with probes,
//! cpu and memory, services, routes (unique hosts per environment), the built-in `postgres`
//! and `redis` resource types, `when` overrides, autoscaling, a few CronJobs and a
//! `depends-on` DAG (a workload only depends on workloads with a smaller index, so there is no
//! cycle). The output is deterministic: the same N gives the same bytes. The tree validates
//! with no errors and no warnings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A tiny deterministic PRNG (SplitMix64), so the tree depends on N alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const KINDS: &[&str] = &[
    "api", "worker", "web", "gateway", "sync", "search", "ledger",
];
const WORDS: &[&str] = &[
    "orders",
    "billing",
    "catalog",
    "search",
    "identity",
    "payments",
    "shipping",
    "returns",
    "pricing",
    "reviews",
    "inventory",
    "loyalty",
    "checkout",
    "messaging",
    "reporting",
];

/// The shape of the tree for a given N.
struct Shape {
    workloads: usize,
    teams: usize,
    systems: usize,
    domains: usize,
}

impl Shape {
    fn new(n: usize) -> Shape {
        Shape {
            workloads: n,
            teams: n.div_ceil(20).max(1),
            systems: n.div_ceil(10).max(1),
            domains: n.div_ceil(200).max(1),
        }
    }
}

fn team(i: usize) -> String {
    format!("team-{:04}", i + 1)
}

fn system(i: usize) -> String {
    format!("{}-{:04}", WORDS[i % WORDS.len()], i + 1)
}

fn domain(i: usize) -> String {
    format!("domain-{:03}", i + 1)
}

fn workload(i: usize) -> String {
    format!("w{:05}-{}", i + 1, KINDS[i % KINDS.len()])
}

/// Which system a workload belongs to: consecutive blocks of ten.
fn system_of(i: usize, shape: &Shape) -> usize {
    (i / 10).min(shape.systems - 1)
}

/// Every 25th workload is a nightly CronJob.
fn scheduled(i: usize) -> bool {
    i % 25 == 24
}

fn write(root: &Path, rel: &str, text: &str) -> std::io::Result<()> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

fn environments() -> String {
    let mut s = String::from("// Three environments; namespaces default to <system>-<env>.\n");
    for (name, ty, region, backend) in [
        ("dev", "development", "eu-west-1", "backend local path=\"dev.tfstate\""),
        (
            "staging",
            "staging",
            "eu-central-1",
            "backend s3 bucket=example-tfstate key=\"staging/terraform.tfstate\" region=eu-central-1 encrypt=#true",
        ),
        (
            "prod",
            "production",
            "eu-central-1",
            "backend s3 bucket=example-tfstate key=\"prod/terraform.tfstate\" region=eu-central-1 encrypt=#true",
        ),
    ] {
        let _ = write!(
            s,
            r#"
environment {name} {{
    type {ty}
    region {region}
    ingress-class nginx namespace=ingress-nginx
    labels cost-center=cc-{cc} tier={name}
    terraform {{
        required-version ">= 1.6"
        provider aws source="hashicorp/aws" version="~> 5.0" region={region}
        provider kubernetes source="hashicorp/kubernetes" version="~> 2.30" config-context=example-{name}
        {backend}
    }}
}}
"#,
            cc = 1000 + name.len(),
        );
    }
    s
}

fn organisation(shape: &Shape) -> String {
    let mut s = String::from("// Domains and systems.\n");
    for d in 0..shape.domains {
        let _ = write!(
            s,
            "\ndomain {} {{\n    owner {}\n    description \"Business domain {}\"\n}}\n",
            domain(d),
            team(d % shape.teams),
            d + 1
        );
    }
    for y in 0..shape.systems {
        let _ = write!(
            s,
            "\nsystem {} {{\n    owner {}\n    domain {}\n    description \"The {} system, number {}\"\n}}\n",
            system(y),
            team(y % shape.teams),
            domain(y % shape.domains),
            WORDS[y % WORDS.len()],
            y + 1
        );
    }
    s
}

fn team_file(t: usize) -> String {
    let name = team(t);
    format!(
        "// Team {n}.\n\nteam {name} {{\n    title \"Team {n}\"\n    email \"{name}@example.com\"\n    member user-{a:05} email=\"user-{a:05}@example.com\" title=\"User {a}\"\n    member user-{b:05} email=\"user-{b:05}@example.com\" title=\"User {b}\"\n}}\n",
        n = t + 1,
        a = 2 * t + 1,
        b = 2 * t + 2,
    )
}

fn workload_file(i: usize, shape: &Shape, rng: &mut Rng) -> String {
    let name = workload(i);
    let sys = system_of(i, shape);
    let owner = team(sys % shape.teams);
    let cron = scheduled(i);
    let has_db = i % 5 < 3;
    let has_cache = i % 3 == 1;
    let has_route = !cron && i % 3 == 0;
    let autoscale = !cron && i % 7 == 0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "// {name}: generated workload {} of {}.\n",
        i + 1,
        shape.workloads
    );
    let _ = writeln!(s, "workload {name} {{");
    let _ = writeln!(
        s,
        "    description \"Generated {} number {}\"",
        KINDS[i % KINDS.len()],
        i + 1
    );
    let _ = writeln!(s, "    owner {owner}");
    let _ = writeln!(s, "    system {}", system(sys));
    let _ = writeln!(s, "    tags {} generated", KINDS[i % KINDS.len()]);
    if cron {
        let _ = writeln!(s, "    schedule \"{} 3 * * *\"", i % 60);
    } else if autoscale {
        let _ = writeln!(s, "    autoscale min=2 max=8 cpu-percent=70");
    } else {
        let _ = writeln!(s, "    replicas 2");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "    container main {{");
    let _ = writeln!(
        s,
        "        image \"registry.example.com/{owner}/{name}:{}.{}.{}\"",
        1 + i % 3,
        i % 17,
        i % 5
    );
    if !cron {
        let _ = writeln!(
            s,
            "        args \"--port\" \"8080\" \"--name=${{workload.name}}\""
        );
    }
    let _ = writeln!(
        s,
        "        env LOG_LEVEL=info APP_ENV=\"${{env.name}}\" REGION=\"${{env.region}}\" WORKERS={}",
        2 + i % 6
    );
    if has_db {
        let _ = writeln!(
            s,
            "        env DB_HOST=\"${{resources.db.host}}\" DB_PASSWORD=\"${{resources.db.password}}\""
        );
        let _ = writeln!(
            s,
            "        env DATABASE_URL=\"postgres://${{resources.db.username}}:${{resources.db.password}}@${{resources.db.host}}:${{resources.db.port}}/${{resources.db.name}}\""
        );
    }
    if has_cache {
        let _ = writeln!(
            s,
            "        env REDIS_ADDR=\"${{resources.cache.host}}:${{resources.cache.port}}\" REDIS_PASSWORD=\"${{resources.cache.password}}\""
        );
    }
    if !cron {
        let _ = writeln!(s, "        port http 8080");
        let _ = writeln!(s, "        port metrics 9090");
    }
    let _ = writeln!(
        s,
        "        cpu request=\"{}m\" limit=\"1\"",
        100 + 50 * (i % 4)
    );
    let _ = writeln!(
        s,
        "        memory request=\"{}Mi\" limit=\"512Mi\"",
        128 + 64 * (i % 3)
    );
    if !cron {
        let _ = writeln!(
            s,
            "        probe liveness http path=\"/healthz\" port=http period=10"
        );
        let _ = writeln!(
            s,
            "        probe readiness http path=\"/ready\" port=http period=5"
        );
    }
    let _ = writeln!(s, "    }}");
    if !cron {
        let _ = writeln!(s, "\n    service {{ port http 80 target=http }}");
    }
    if has_route {
        let _ = writeln!(
            s,
            "    route host=\"{name}.example.com\" path=\"/\" port=http tls=#true"
        );
    }
    if has_db || has_cache {
        let _ = writeln!(s);
    }
    if has_db {
        let _ = writeln!(s, "    resource db type=postgres size=small storage-gb=20");
    }
    if has_cache {
        let _ = writeln!(s, "    resource cache type=redis");
    }
    // The DAG: the previous workload of the same system and one earlier workload anywhere,
    // never a CronJob (it serves nothing).
    let mut deps = Vec::new();
    if i % 10 != 0 && !scheduled(i - 1) {
        deps.push(i - 1);
    }
    if i > 0 && i % 4 == 1 {
        let j = rng.below(i);
        if !scheduled(j) && !deps.contains(&j) {
            deps.push(j);
        }
    }
    deps.sort_unstable();
    if !deps.is_empty() {
        let _ = writeln!(s);
    }
    for d in deps {
        let _ = writeln!(s, "    depends-on {}", workload(d));
    }

    // Overrides: production scales up, dev scales down, routes differ per environment.
    let _ = writeln!(s, "\n    when env-type=production {{");
    if !cron {
        if autoscale {
            let _ = writeln!(s, "        autoscale max=16");
        } else {
            let _ = writeln!(s, "        replicas 3");
        }
    }
    let _ = writeln!(s, "        container main {{");
    let _ = writeln!(s, "            env LOG_LEVEL=warn");
    let _ = writeln!(s, "            cpu limit=\"2\"");
    let _ = writeln!(s, "        }}");
    if has_db {
        let _ = writeln!(s, "        resource db size=medium storage-gb=100");
    }
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s, "\n    when env=dev {{");
    if autoscale {
        let _ = writeln!(s, "        autoscale #null");
    }
    if !cron {
        let _ = writeln!(s, "        replicas 1");
    }
    let _ = writeln!(s, "        container main {{ env LOG_LEVEL=debug; }}");
    if has_route {
        let _ = writeln!(
            s,
            "        route host=\"{name}.dev.example.com\" path=\"/\" port=http tls=#true"
        );
    }
    let _ = writeln!(s, "    }}");
    if has_route {
        let _ = writeln!(
            s,
            "\n    when env=staging {{\n        route host=\"{name}.staging.example.com\" path=\"/\" port=http tls=#true\n    }}"
        );
    }
    let _ = writeln!(s, "}}");
    s
}

/// Write the tree for `n` workloads under `root`; returns the number of files written.
pub fn generate(n: usize, root: &Path) -> std::io::Result<usize> {
    let shape = Shape::new(n);
    let mut rng = Rng(0x0074_7265_7374_6c65 ^ n as u64);
    let mut files = 0;
    write(root, "platform/environments.kdl", &environments())?;
    write(root, "platform/organisation.kdl", &organisation(&shape))?;
    files += 2;
    for t in 0..shape.teams {
        write(root, &format!("teams/{}.kdl", team(t)), &team_file(t))?;
        files += 1;
    }
    for i in 0..shape.workloads {
        let sys = system(system_of(i, &shape));
        let text = workload_file(i, &shape, &mut rng);
        write(root, &format!("apps/{sys}/{}.kdl", workload(i)), &text)?;
        files += 1;
    }
    Ok(files)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n, dir) = match args.as_slice() {
        [n, dir] => match n.replace('_', "").parse::<usize>() {
            Ok(n) if n > 0 => (n, PathBuf::from(dir)),
            _ => usage(),
        },
        _ => usage(),
    };
    match generate(n, &dir) {
        Ok(files) => eprintln!(
            "wrote {files} spec files for {n} workloads to {}",
            dir.display()
        ),
        Err(e) => {
            eprintln!("error: cannot write to {}: {e}", dir.display());
            std::process::exit(2);
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: gen N DIR   (N workloads, N > 0; DIR is created)");
    std::process::exit(2);
}
