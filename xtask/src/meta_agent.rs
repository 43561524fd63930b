//! `cargo xtask meta-agent`: new agent prompt templates from the grammar (offline) or from a
//! teacher model shown sets of similar seed queries, every candidate validated, with a report
//! of what was accepted and why the rest was refused (`templates`); validation of existing
//! template files (`validate`); query sets from seed queries (`cluster`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentune_meta_agent::run::{grammar_candidates, teacher_candidates, write_run};
use agentune_meta_agent::{
    ClusterSettings, EmbeddingClient, GrammarSettings, MetaPrompt, QuerySet, Rejection, Report,
    SeedQuery, ValidationSettings, Validator, cluster_embedded, cluster_queries, read_queries,
    teacher,
};
use agentune_runtime::cache::{CachedModel, ChatCache};
use agentune_runtime::model::OpenAiClient;
use agentune_runtime::tools::ToolRegistry;
use agentune_schema::ToolSpec;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// The meta-agent commands.
#[derive(Debug, Subcommand)]
pub enum MetaAgentCommand {
    /// Write new agent prompt templates (grammar by default, or a teacher endpoint), validate
    /// them, and write templates/, rejected.jsonl and report.{json,md} into --out.
    Templates(TemplatesArgs),
    /// Validate template files (TOML or JSON) with the same rules and write a report.
    Validate(ValidateArgs),
    /// Group seed queries into sets of similar queries (JSONL to stdout or --out).
    Cluster(ClusterArgs),
    /// The teacher solves each query through the agent loop with the real built-in tools;
    /// trajectories that pass the format, execution and semantic checks are kept.
    Trajectories(TrajectoriesArgs),
}

/// Inputs shared by the commands.
#[derive(Debug, Args)]
pub struct Inputs {
    /// Seed queries: JSONL lines with a `query` field (or JSON strings).
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Tools in OpenAI format (an array of `tools`/`functions` entries, or an object holding
    /// one); default: the built-in tools.
    #[arg(long)]
    tools: Option<PathBuf>,
    /// Estimated similarity at or above which a template is a near-duplicate of one accepted
    /// before.
    #[arg(long, default_value_t = 0.9)]
    near_duplicate: f64,
}

/// Query-set options.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Wished queries per set.
    #[arg(long, default_value_t = 8)]
    set_size: usize,
    /// Largest set.
    #[arg(long, default_value_t = 16)]
    max_set_size: usize,
    /// Smallest set (smaller ones are merged into their nearest set).
    #[arg(long, default_value_t = 2)]
    min_set_size: usize,
    /// Number of sets (default: queries / set-size).
    #[arg(long, default_value_t = 0)]
    sets: usize,
    /// Seed of the clustering.
    #[arg(long = "cluster-seed", default_value_t = 1)]
    cluster_seed: u64,
    /// Group by embeddings from this OpenAI-compatible endpoint (`/embeddings` is appended)
    /// instead of character n-grams.
    #[arg(long, requires = "embed_model")]
    embed_endpoint: Option<String>,
    /// Embedding model name.
    #[arg(long, requires = "embed_endpoint")]
    embed_model: Option<String>,
    /// Environment variable holding the embedding endpoint's API key.
    #[arg(long, requires = "embed_endpoint")]
    embed_api_key_env: Option<String>,
}

impl SetArgs {
    /// The query sets: by embeddings when an endpoint is given, else by character n-grams.
    fn sets(&self, queries: &[SeedQuery]) -> Result<Vec<QuerySet>> {
        let (Some(url), Some(model)) = (&self.embed_endpoint, &self.embed_model) else {
            return Ok(cluster_queries(queries, &self.settings())?);
        };
        let mut client = EmbeddingClient::new(url, model);
        if let Some(var) = &self.embed_api_key_env {
            let key = std::env::var(var)
                .with_context(|| format!("--embed-api-key-env: {var} is not set"))?;
            client = client.with_api_key(key);
        }
        let texts: Vec<&str> = queries.iter().map(|q| q.query.as_str()).collect();
        let vectors = client.embed(&texts)?;
        tracing::info!(
            queries = texts.len(),
            dim = vectors.first().map_or(0, Vec::len),
            "query embeddings"
        );
        Ok(cluster_embedded(queries, &vectors, &self.settings())?)
    }

    fn settings(&self) -> ClusterSettings {
        ClusterSettings {
            set_size: self.set_size,
            max_size: self.max_set_size,
            min_size: self.min_set_size,
            sets: self.sets,
            seed: self.cluster_seed,
            ..Default::default()
        }
    }
}

/// `meta-agent templates`.
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    sets: SetArgs,
    /// Compose templates from the grammar (the default when no --endpoint is given).
    #[arg(long, conflicts_with = "endpoint")]
    grammar: bool,
    /// Teacher: an OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1).
    #[arg(long, requires = "model")]
    endpoint: Option<String>,
    /// Teacher model name.
    #[arg(long)]
    model: Option<String>,
    /// Environment variable holding the teacher's API key.
    #[arg(long)]
    api_key_env: Option<String>,
    /// Meta-agent prompt file (default: configs/meta-agent/default.toml, built in).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Templates asked per query set (overrides the prompt file).
    #[arg(long)]
    templates_per_set: Option<usize>,
    /// Token limit of a teacher reply (overrides the prompt file).
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Teacher requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seconds before a teacher request times out.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Response cache (default: OUT/cache.jsonl): a rerun does not ask twice.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Grammar: templates wanted (accepted).
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Grammar: seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Grammar: languages, comma-separated.
    #[arg(long, default_value = "en,zh", value_delimiter = ',')]
    languages: Vec<String>,
    /// Prefix of the template ids.
    #[arg(long)]
    id_prefix: Option<String>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// `meta-agent validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Template files or folders (every *.toml and *.json in them).
    #[arg(required = true)]
    templates: Vec<PathBuf>,
    /// Output folder for rejected.jsonl, report.json and report.md (and templates/).
    #[arg(long)]
    out: PathBuf,
}

/// `meta-agent cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Seed queries: JSONL lines with a `query` field (or JSON strings).
    #[arg(long)]
    queries: PathBuf,
    #[command(flatten)]
    sets: SetArgs,
    /// Write the sets here (JSONL) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `meta-agent trajectories`.
#[derive(Debug, Args)]
pub struct TrajectoriesArgs {
    /// Queries: JSONL lines with a `query` field (an `answer` is the gold answer).
    #[arg(long)]
    queries: PathBuf,
    /// Templates: built-in ids, files, folders or `*` patterns (each query gets one).
    #[arg(long, required = true, value_delimiter = ',')]
    templates: Vec<String>,
    /// Built-in tools offered to the teacher, comma-separated names (default: all).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// Teacher: an OpenAI-compatible endpoint.
    #[arg(long)]
    endpoint: String,
    /// Teacher model name.
    #[arg(long)]
    model: String,
    /// Environment variable holding the teacher's API key.
    #[arg(long)]
    api_key_env: Option<String>,
    /// Settings file (TOML: attempts, max_steps, call_budget, temperature, max_tokens, date,
    /// judge_system, judge_user).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Attempts per query (overrides the settings file).
    #[arg(long)]
    attempts: Option<usize>,
    /// Model calls per query (overrides the settings file).
    #[arg(long)]
    call_budget: Option<usize>,
    /// Queries in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seconds before a teacher request times out.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Response cache (default: OUT with `.cache.jsonl`).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Folder of the note tools' sandbox (default: next to OUT).
    #[arg(long)]
    sandbox: Option<PathBuf>,
    /// Kept trajectories (JSONL); rejections go next to it, `.rejected.jsonl`.
    #[arg(long)]
    out: PathBuf,
}

/// Runs a meta-agent command.
pub fn run(command: &MetaAgentCommand) -> Result<()> {
    match command {
        MetaAgentCommand::Templates(a) => templates(a),
        MetaAgentCommand::Validate(a) => validate(a),
        MetaAgentCommand::Cluster(a) => cluster(a),
        MetaAgentCommand::Trajectories(a) => trajectories(a),
    }
}

fn load_tools(path: Option<&Path>) -> Result<Vec<ToolSpec>> {
    match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", p.display()))?;
            let tools = agentune_schema::tools_from_openai_json(&value)
                .with_context(|| format!("{}", p.display()))?;
            if tools.is_empty() {
                bail!("{}: no tools", p.display());
            }
            Ok(tools)
        }
        None => Ok(ToolRegistry::builtin_specs().context("the built-in tools")?),
    }
}

fn validator(inputs: &Inputs, queries: &[String]) -> Result<Validator> {
    let tools = load_tools(inputs.tools.as_deref())?;
    let settings = ValidationSettings {
        near_duplicate: inputs.near_duplicate,
        ..Default::default()
    };
    Ok(Validator::new(tools, queries, settings)?)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what} ({{eta}})"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn summary(out: &Path, report: &Report) {
    let rejected: Vec<String> = report
        .rejected
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    eprintln!(
        "{} candidates: {} accepted, {} rejected{}",
        report.candidates,
        report.accepted,
        report.candidates - report.accepted,
        if rejected.is_empty() {
            String::new()
        } else {
            format!(" ({})", rejected.join(", "))
        }
    );
    if report.similarity.pairs > 0 {
        eprintln!(
            "pairwise similarity: mean {:.3}, p90 {:.3}, max {:.3}",
            report.similarity.mean, report.similarity.p90, report.similarity.max
        );
    }
    eprintln!(
        "templates in {}, report in {}",
        out.join("templates").display(),
        out.join("report.md").display()
    );
}

fn templates(a: &TemplatesArgs) -> Result<()> {
    let queries = match &a.inputs.queries {
        Some(p) => read_queries(p)?,
        None => Vec::new(),
    };
    let texts: Vec<String> = queries.iter().map(|q| q.query.clone()).collect();
    let mut v = validator(&a.inputs, &texts)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let Some(endpoint) = a.endpoint.as_deref().filter(|_| !a.grammar) else {
        let settings = GrammarSettings {
            count: a.count,
            seed: a.seed,
            languages: a.languages.clone(),
            id_prefix: a.id_prefix.clone().unwrap_or_else(|| "grammar".into()),
            ..Default::default()
        };
        let pb = bar(a.count as u64, "templates accepted");
        let rejections = grammar_candidates(&mut v, &settings, &|n| pb.set_position(n as u64))?;
        pb.finish_and_clear();
        let run = write_run(
            &a.out,
            "grammar",
            &v,
            rejections,
            None,
            a.inputs.near_duplicate,
        )?;
        summary(&a.out, &run.report);
        return Ok(());
    };
    let Some(model_name) = a.model.as_deref() else {
        bail!("--endpoint needs --model");
    };
    if queries.is_empty() {
        bail!("the teacher needs --queries (seed queries to group into sets)");
    }
    let mut prompt = match &a.config {
        Some(p) => MetaPrompt::load(p)?,
        None => MetaPrompt::builtin()?,
    };
    if let Some(n) = a.templates_per_set {
        if n == 0 {
            bail!("--templates-per-set must be at least 1");
        }
        prompt.templates_per_set = n;
    }
    if let Some(n) = a.max_tokens {
        prompt.max_tokens = Some(n);
    }
    let sets = a.sets.sets(&queries)?;
    tracing::info!(queries = queries.len(), sets = sets.len(), "query sets");
    let mut client =
        OpenAiClient::new(endpoint, model_name).with_timeout(Duration::from_secs(a.timeout));
    if let Some(var) = &a.api_key_env {
        client = client
            .with_api_key_env(var)
            .with_context(|| format!("--api-key-env {var}"))?;
    }
    let cache_path = a.cache.clone().unwrap_or_else(|| a.out.join("cache.jsonl"));
    let cache = ChatCache::open(&cache_path)?;
    let cached = CachedModel::new(&client, model_name, Some(&cache));
    let pb = bar(
        (sets.len() * prompt.templates_per_set) as u64,
        "teacher replies",
    );
    let replies = teacher::ask(&cached, &prompt, &sets, v.tools(), a.concurrency, &|| {
        pb.inc(1)
    })?;
    pb.finish_and_clear();
    eprintln!(
        "teacher: {} replies from the cache, {} requested",
        cached.hits(),
        cached.calls()
    );
    let prefix = a.id_prefix.clone().unwrap_or_else(|| "meta".into());
    let rejections = teacher_candidates(&mut v, &replies, &prefix);
    let run = write_run(
        &a.out,
        "teacher",
        &v,
        rejections,
        Some(&sets),
        a.inputs.near_duplicate,
    )?;
    summary(&a.out, &run.report);
    Ok(())
}

fn validate(a: &ValidateArgs) -> Result<()> {
    let queries = match &a.inputs.queries {
        Some(p) => read_queries(p)?.into_iter().map(|q| q.query).collect(),
        None => Vec::new(),
    };
    let mut v = validator(&a.inputs, &queries)?;
    let mut files = Vec::new();
    for p in &a.templates {
        if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("listing {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml" || x == "json"))
                .collect();
            inner.sort();
            files.extend(inner);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        bail!("no template file given");
    }
    let pb = bar(files.len() as u64, "templates checked");
    let mut rejections: Vec<Rejection> = Vec::new();
    for f in &files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        if let Err(r) = v.check_text(&text, &f.display().to_string(), None) {
            rejections.push(r);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let run = write_run(
        &a.out,
        "files",
        &v,
        rejections,
        None,
        a.inputs.near_duplicate,
    )?;
    for r in &run.rejections {
        eprintln!("{}: {}: {}", r.source, r.reason, r.message);
    }
    summary(&a.out, &run.report);
    Ok(())
}

fn cluster(a: &ClusterArgs) -> Result<()> {
    let queries = read_queries(&a.queries)?;
    let sets = a.sets.sets(&queries)?;
    match &a.out {
        Some(p) => {
            agentune_schema::write_jsonl(p, sets.iter())?;
            eprintln!(
                "{} queries in {} sets written to {}",
                queries.len(),
                sets.len(),
                p.display()
            );
        }
        None => {
            for s in &sets {
                println!("{}", serde_json::to_string(s)?);
            }
        }
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trajectories".into());
    path.with_file_name(format!("{stem}{suffix}"))
}

fn trajectories(a: &TrajectoriesArgs) -> Result<()> {
    use agentune_meta_agent::trajectories::{TrajectoryReport, TrajectorySettings, teach_all};
    let queries = read_queries(&a.queries)?;
    let mix = agentune_data::render::TemplateMix::from_specs(&a.templates, &[])?;
    let templates: Vec<agentune_runtime::Template> = mix.templates().cloned().collect();
    let mut settings = match &a.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<TrajectorySettings>(&text)
                .with_context(|| format!("{}", p.display()))?
        }
        None => TrajectorySettings::default(),
    };
    if let Some(n) = a.attempts {
        settings.attempts = n;
    }
    if let Some(n) = a.call_budget {
        settings.call_budget = n;
    }
    let sandbox = a
        .sandbox
        .clone()
        .unwrap_or_else(|| sibling(&a.out, ".sandbox"));
    let mut tools = ToolRegistry::builtin(&sandbox)
        .with_context(|| format!("the built-in tools (sandbox {})", sandbox.display()))?;
    if !a.tools.is_empty() {
        let known = tools.names().join(", ");
        if let Some(unknown) = a.tools.iter().find(|n| tools.get(n).is_none()) {
            bail!("--tools: no built-in tool `{unknown}` (the built-in tools: {known})");
        }
        let names: Vec<&str> = a.tools.iter().map(String::as_str).collect();
        tools.retain(&names);
    }
    let mut client =
        OpenAiClient::new(&a.endpoint, &a.model).with_timeout(Duration::from_secs(a.timeout));
    if let Some(var) = &a.api_key_env {
        client = client
            .with_api_key_env(var)
            .with_context(|| format!("--api-key-env {var}"))?;
    }
    let cache = ChatCache::open(
        &a.cache
            .clone()
            .unwrap_or_else(|| sibling(&a.out, ".cache.jsonl")),
    )?;
    let cached = CachedModel::new(&client, &a.model, Some(&cache));
    let pb = bar(queries.len() as u64, "queries");
    let results = teach_all(
        &cached,
        &a.model,
        &tools,
        &templates,
        &queries,
        &settings,
        a.concurrency,
        &|| pb.inc(1),
    )?;
    pb.finish_and_clear();
    let kept: Vec<_> = results.iter().filter_map(|r| r.kept.as_ref()).collect();
    let rejected: Vec<_> = results.iter().flat_map(|r| r.rejections.iter()).collect();
    agentune_schema::write_jsonl(&a.out, kept.iter().copied())?;
    let rejected_path = sibling(&a.out, ".rejected.jsonl");
    agentune_schema::write_jsonl(&rejected_path, rejected.iter().copied())?;
    let report = TrajectoryReport::new(&results, cached.hits(), cached.calls());
    let report_path = sibling(&a.out, ".report.json");
    let json = serde_json::to_string_pretty(&report).context("encoding the report")?;
    agentune_schema::write_atomic(&report_path, format!("{json}\n").as_bytes())?;
    let reasons: Vec<String> = report
        .rejected
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    eprintln!(
        "teacher: {} replies from the cache, {} requested",
        cached.hits(),
        cached.calls()
    );
    eprintln!(
        "{} queries: {} trajectories kept, {} failed attempts{}",
        queries.len(),
        kept.len(),
        rejected.len(),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        }
    );
    eprintln!(
        "kept in {}, rejections in {}, report in {}",
        a.out.display(),
        rejected_path.display(),
        report_path.display()
    );
    Ok(())
}
