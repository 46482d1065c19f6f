//! `portcullis policy ...`: a stable command-line interface other tools call.
//!
//! Exit codes: `validate` 0 valid, 1 invalid, 2 unusable input; `simulate` and `bench` 0 done,
//! 2 malformed input (the error on stderr).

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use portcullis_policy::{Finding, PolicyKind, Severity, Simulation, parse_simulations, validate};
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy document as AWS would: prints each finding (errors AWS refuses, warnings
    /// such as actions unknown to the service authorization reference); exit 0 when valid, 1
    /// when not.
    Validate {
        /// Where the policy is used; each kind has its own rules and size limit.
        #[arg(long, value_enum, default_value_t = Kind::Identity)]
        kind: Kind,
        /// Print findings as a JSON array instead of lines.
        #[arg(long)]
        json: bool,
        /// The policy file (`-` for standard input).
        file: String,
    },
    /// Decide requests: reads one simulation object or an array, prints the result(s) as JSON.
    Simulate {
        /// The simulation file (`-` for standard input).
        #[arg(long)]
        input: String,
    },
    /// Measure the engine: compile each simulation once, then evaluate it repeatedly and report
    /// decisions per second and median/p99 latency, plus the parse+compile time.
    Bench {
        /// The simulation file (`-` for standard input).
        #[arg(long)]
        input: String,
        /// How long to evaluate each simulation.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
}

/// The policy kinds, as the command line spells them.
#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Identity,
    Resource,
    Trust,
    Boundary,
    Session,
    Scp,
}

impl From<Kind> for PolicyKind {
    fn from(kind: Kind) -> PolicyKind {
        match kind {
            Kind::Identity => PolicyKind::Identity,
            Kind::Resource => PolicyKind::Resource,
            Kind::Trust => PolicyKind::Trust,
            Kind::Boundary => PolicyKind::Boundary,
            Kind::Session => PolicyKind::Session,
            Kind::Scp => PolicyKind::ServiceControl,
        }
    }
}

pub fn run(command: PolicyCommand) -> ExitCode {
    let result = match command {
        PolicyCommand::Validate { kind, json, file } => run_validate(kind.into(), json, &file),
        PolicyCommand::Simulate { input } => run_simulate(&input),
        PolicyCommand::Bench { input, seconds } => run_bench(&input, seconds),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read_input(path: &str) -> Result<String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    }
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "severity": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "location": f.location,
        "message": f.message,
    })
}

fn run_validate(kind: PolicyKind, as_json: bool, file: &str) -> Result<ExitCode> {
    let text = read_input(file)?;
    let mut findings = validate(&text, kind);
    let valid = !findings.iter().any(Finding::is_error);
    // Actions AWS's service authorization reference does not know: warnings, as IAM Access
    // Analyzer gives them (AWS accepts such documents).
    findings.extend(portcullis_iam::service_reference::action_findings(&text));
    if as_json {
        let list: Vec<Value> = findings.iter().map(finding_json).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for f in &findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            println!("{level}: {f}");
        }
        if valid {
            println!("valid {kind} policy");
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn load(input: &str) -> Result<(Vec<Simulation>, bool)> {
    let text = read_input(input)?;
    Ok(parse_simulations(&text, time::OffsetDateTime::now_utc())?)
}

fn run_simulate(input: &str) -> Result<ExitCode> {
    let (sims, is_array) = load(input)?;
    let results: Vec<Value> = sims.iter().map(|s| s.result_json(&s.evaluate())).collect();
    let out = if is_array {
        Value::Array(results)
    } else {
        results.into_iter().next().unwrap_or(Value::Null)
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Evaluations timed together: timing each one alone would measure the clock, not the engine.
const BATCH: u32 = 64;

fn run_bench(input: &str, seconds: f64) -> Result<ExitCode> {
    let text = read_input(input)?;
    let now = time::OffsetDateTime::now_utc();
    let (sims, is_array) = parse_simulations(&text, now)?;
    let budget = Duration::from_secs_f64(seconds.clamp(0.01, 3600.0));

    let mut results = Vec::with_capacity(sims.len());
    for (i, sim) in sims.iter().enumerate() {
        let compile = compile_time(&text, is_array, i, now);
        let (batches, total) = time_evaluations(sim, budget);
        let mut per_eval: Vec<f64> = batches
            .iter()
            .map(|d| d.as_nanos() as f64 / f64::from(BATCH))
            .collect();
        per_eval.sort_by(f64::total_cmp);
        let evaluations = batches.len() as u64 * u64::from(BATCH);
        let pick = |q: f64| {
            per_eval
                .get(((per_eval.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        results.push(json!({
            "decision": sim.evaluate().outcome.as_str(),
            "statements": sim.statement_count(),
            "evaluations": evaluations,
            "decisionsPerSecond": (evaluations as f64 / total.as_secs_f64()).round(),
            "medianNanos": (pick(0.5) * 10.0).round() / 10.0,
            "p99Nanos": (pick(0.99) * 10.0).round() / 10.0,
            "parseCompileMicros": (compile.as_nanos() as f64 / 100.0).round() / 10.0,
        }));
    }
    let out = if is_array {
        Value::Array(results)
    } else {
        results.into_iter().next().unwrap_or(Value::Null)
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Mean time to parse, validate and compile simulation `index` (its policies and request).
fn compile_time(text: &str, is_array: bool, index: usize, now: time::OffsetDateTime) -> Duration {
    let one = if is_array {
        match serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get(index).cloned())
        {
            Some(v) => v.to_string(),
            None => return Duration::ZERO,
        }
    } else {
        text.to_owned()
    };
    let rounds = 50u32;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(parse_simulations(std::hint::black_box(&one), now).ok());
    }
    start.elapsed() / rounds
}

/// Evaluates `sim` in batches until `budget` is spent; returns each batch's time and the total.
fn time_evaluations(sim: &Simulation, budget: Duration) -> (Vec<Duration>, Duration) {
    let inputs = sim.inputs();
    // Warm up caches and the branch predictor.
    for _ in 0..1000 {
        std::hint::black_box(inputs.evaluate(std::hint::black_box(&sim.request)));
    }
    let mut batches = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        for _ in 0..BATCH {
            std::hint::black_box(inputs.evaluate(std::hint::black_box(&sim.request)));
        }
        batches.push(t.elapsed());
    }
    let total = batches.iter().sum();
    (batches, total)
}
