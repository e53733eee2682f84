//! Offline evaluation of the auto router's cost / quality trade-off on public per-prompt
//! outcomes of a strong and a weak model (RouteLLM's GSM8K and MT-Bench data):
//!
//!     cargo run -p switchyard-router --example routing_eval -- <routing-eval dir>
//!
//! For each prompt the router's difficulty score decides strong or weak at a threshold;
//! quality is the chosen model's recorded outcome (GSM8K: correct or not; MT-Bench: judge
//! score 1–10), cost is the chosen model's list price for that prompt. The policy was not
//! tuned on this data, so every row is held-out.

use std::path::{Path, PathBuf};
use switchyard_api::chat::{ChatRequest, Message, Role};
use switchyard_router::auto::{difficulty, DEFAULT_THRESHOLD};

/// USD per million tokens (input, output) of the two models in the data, at list price.
const STRONG_PRICE: (f64, f64) = (10.0, 30.0); // gpt-4-1106-preview
const WEAK_PRICE: (f64, f64) = (0.6, 0.6); // Mixtral-8x7B-Instruct

struct Row {
    score: f64,
    weak: f64,
    strong: f64,
    /// Cost of answering with (weak, strong), USD.
    cost: (f64, f64),
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines.
fn csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (vec![], vec![], String::new());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn tokens(s: &str) -> f64 {
    s.chars().count() as f64 / 4.0
}

fn cost(price: (f64, f64), input: f64, output: f64) -> f64 {
    (price.0 * input + price.1 * output) / 1e6
}

fn ask(turns: &[String]) -> ChatRequest {
    ChatRequest {
        messages: turns
            .iter()
            .map(|t| Message::text(Role::User, t.clone()))
            .collect(),
        ..Default::default()
    }
}

fn gsm8k(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("gsm8k_responses.csv")).unwrap_or_default();
    csv(&text)
        .into_iter()
        .skip(1)
        .filter(|r| r.len() >= 5)
        .map(|r| Row {
            score: difficulty(&ask(&[r[0].clone()])).score,
            weak: f64::from(u8::from(r[1] == "True")),
            strong: f64::from(u8::from(r[2] == "True")),
            cost: (
                cost(WEAK_PRICE, tokens(&r[0]), tokens(&r[3])),
                cost(STRONG_PRICE, tokens(&r[0]), tokens(&r[4])),
            ),
        })
        .collect()
}

fn mt_bench(dir: &Path) -> Vec<Row> {
    let questions: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.join("mt_bench_question.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    let judgements: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.join("mt_bench_judgements.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    let score_of = |qid: &serde_json::Value, turn: u64, strong: bool| {
        judgements
            .iter()
            .find(|j| {
                &j["question_id"] == qid
                    && j["turn"] == turn
                    && j["model"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("gpt-4") == strong)
            })
            .and_then(|j| j["score"].as_f64())
    };
    let mut rows = vec![];
    for q in &questions {
        let turns: Vec<String> = q["turns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        for turn in 1..=turns.len() {
            let (Some(w), Some(s)) = (
                score_of(&q["question_id"], turn as u64, false),
                score_of(&q["question_id"], turn as u64, true),
            ) else {
                continue;
            };
            let input: f64 = turns[..turn].iter().map(|t| tokens(t)).sum();
            // No answer texts in this set: assume 400 output tokens either way.
            rows.push(Row {
                score: difficulty(&ask(&turns[..turn])).score,
                weak: w,
                strong: s,
                cost: (
                    cost(WEAK_PRICE, input, 400.0),
                    cost(STRONG_PRICE, input, 400.0),
                ),
            });
        }
    }
    rows
}

fn report(name: &str, rows: &[Row]) {
    let n = rows.len() as f64;
    let strong_q: f64 = rows.iter().map(|r| r.strong).sum::<f64>() / n;
    let weak_q: f64 = rows.iter().map(|r| r.weak).sum::<f64>() / n;
    let strong_cost: f64 = rows.iter().map(|r| r.cost.1).sum();
    println!(
        "\n## {name}: {} prompts; strong quality {strong_q:.3}, weak {weak_q:.3}",
        rows.len()
    );
    println!("| threshold | strong calls | quality | % of strong | cost vs all-strong |");
    println!("|---|---|---|---|---|");
    let mut best: Option<(f64, f64, f64)> = None;
    for t in (0..=20)
        .map(|i| f64::from(i) * 0.05)
        .chain([DEFAULT_THRESHOLD])
    {
        let (mut q, mut c, mut s) = (0.0, 0.0, 0.0);
        for r in rows {
            if r.score >= t {
                q += r.strong;
                c += r.cost.1;
                s += 1.0;
            } else {
                q += r.weak;
                c += r.cost.0;
            }
        }
        let (q, share, rel_cost) = (q / n, s / n, c / strong_cost);
        let pct = q / strong_q * 100.0;
        if pct >= 95.0 && best.is_none_or(|(_, _, bc)| rel_cost < bc) {
            best = Some((t, share, rel_cost));
        }
        let mark = if (t - DEFAULT_THRESHOLD).abs() < 1e-9 {
            " (default)"
        } else {
            ""
        };
        println!(
            "| {t:.2}{mark} | {:.1}% | {q:.3} | {pct:.1}% | {:.1}% |",
            share * 100.0,
            rel_cost * 100.0
        );
    }
    match best {
        Some((t, share, c)) => println!(
            "\nAt ≥95% of the strong model's quality: threshold {t:.2}, {:.1}% strong calls, cost {:.1}% of all-strong (saves {:.1}%).",
            share * 100.0,
            c * 100.0,
            100.0 - c * 100.0
        ),
        None => println!("\nNo threshold reaches 95% of the strong model's quality."),
    }
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/reference/routing-eval".into()),
    );
    let g = gsm8k(&dir);
    let m = mt_bench(&dir);
    if g.is_empty() && m.is_empty() {
        eprintln!(
            "no data under {}: pass the routing-eval directory",
            dir.display()
        );
        std::process::exit(2);
    }
    report("GSM8K", &g);
    report("MT-Bench (per turn, judge score)", &m);
}
