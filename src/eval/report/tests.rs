use super::*;
use crate::eval::judge::Training;
use crate::eval::metrics::{agreement, bootstrap_ci, compute};
use crate::safety::sanitize::escape_html as esc;
use serde_json::Value;
use Strategy::{EmotionalReaction as Er, Exploration as Ex, Interpretation as Ip};

const HOSTILE_PATH: &str = "/data/<script>alert(\"x\")</script>&co/http://evil.example/e.csv";
const HOSTILE_MODEL: &str = "smol<lm> & \"friends\"";

/// `n` pairs leaning to `lean`: gold cycles through the three strategies,
/// every `unknown_every`-th prediction is unknown, half the others are `lean`.
fn pairs(n: usize, lean: Strategy, unknown_every: usize) -> Vec<(Strategy, Option<Strategy>)> {
    (0..n)
        .map(|i| {
            let gold = Strategy::ALL[i % 3];
            let predicted = if i % unknown_every == 0 {
                None
            } else if i % 4 < 2 {
                Some(lean)
            } else {
                Some(gold)
            };
            (gold, predicted)
        })
        .collect()
}

fn therapy_results(offset: usize, judged: bool) -> Vec<TherapyResult> {
    let leans = [Ex, Ip, Er, Ex, Ip];
    Therapy::ALL
        .iter()
        .zip(leans)
        .enumerate()
        .map(|(k, (&therapy, lean))| {
            let p = pairs(60, lean, 5 + 3 * k + offset);
            let by_judge = pairs(60, Ip, 7 + k);
            let claims: Vec<(Strategy, Strategy)> = p
                .iter()
                .zip(&by_judge)
                .filter_map(|((_, c), (_, j))| Some(((*c)?, (*j)?)))
                .collect();
            TherapyResult {
                therapy,
                metrics: compute(&p),
                intervals: bootstrap_ci(&p, 200, 11),
                judged: judged.then(|| Judged {
                    metrics: compute(&by_judge),
                    intervals: bootstrap_ci(&by_judge, 200, 11),
                    agreement: agreement(&claims, 200, 11),
                }),
            }
        })
        .collect()
}

fn model_info(name: &str, model: &str) -> ModelInfo {
    ModelInfo {
        name: name.into(),
        model: model.into(),
        base_url_host: url_host("https://user:sk-secret@llm.local:8080/v1?key=k"),
        temperature: 0.9,
        top_p: 1.0,
        llm_seed: None,
        parse_errors: 3,
        llm_errors: 1,
        crisis_flagged: 2,
    }
}

fn judge_quality() -> JudgeQuality {
    let held_out = pairs(90, Ip, 4);
    let baseline: Vec<_> = held_out.iter().map(|(g, _)| (*g, Some(Ip))).collect();
    JudgeQuality {
        method: "embeddings + softmax".into(),
        training: Training::Disjoint,
        pool: 90,
        pool_per_strategy: [30, 30, 30],
        reserved_excluded: 40,
        evaluated_excluded: 60,
        folds: 5,
        seed: 7,
        held_out: compute(&held_out),
        held_out_ci: bootstrap_ci(&held_out, 200, 7),
        baseline: compute(&baseline),
        baseline_ci: bootstrap_ci(&baseline, 200, 7),
    }
}

/// One model, judged: the usual run.
fn sample_report() -> Report {
    Report {
        run: RunInfo {
            run_id: "2024-05-01T10-00-00Z-ab12".into(),
            dataset_path: HOSTILE_PATH.into(),
            dataset_sha256: "99d90f8d8044b8fd663888fb941f049d5f40b5b84928636afe5ba19561d98274"
                .into(),
            prompt_versions: Therapy::ALL
                .iter()
                .map(|&t| (t, "v1".to_string()))
                .collect(),
            limit: Some(60),
            sample_seed: Some(7),
            tie_rule: "order:ip,er,ex".parse().unwrap(),
            judge: true,
            models_file: None,
            started_at: "2024-05-01T10:00:00+00:00".into(),
            finished_at: "2024-05-01T10:42:00+00:00".into(),
            load_stats: LoadStats {
                rows_read: 9252,
                duplicate_keys: 60,
                duplicate_conflicts: 21,
                ties_resolved: 202,
                all_zero_excluded: 691,
                items: 2332,
                ..LoadStats::default()
            },
        },
        models: vec![ModelReport {
            info: model_info("default", HOSTILE_MODEL),
            therapies: therapy_results(0, true),
        }],
        judge: Some(judge_quality()),
    }
}

/// Two models side by side.
fn two_model_report() -> Report {
    let mut report = sample_report();
    report.run.models_file = Some("/tmp/models.toml".into());
    report.models.push(ModelReport {
        info: model_info("second", "other-model"),
        therapies: therapy_results(1, true),
    });
    report
}

#[test]
fn base_url_keeps_only_the_host() {
    assert_eq!(
        url_host("https://user:sk-secret@llm.local:8080/v1?key=k#x"),
        "llm.local:8080"
    );
    assert_eq!(url_host("http://127.0.0.1:8080/v1"), "127.0.0.1:8080");
    assert_eq!(url_host("api.example.com/v1"), "api.example.com");
    assert_eq!(url_host(""), "");
}

#[test]
fn human_mix_comes_from_the_therapy_with_most_items() {
    let mut report = sample_report();
    assert_eq!(
        report.human_mix(),
        Some(&report.models[0].therapies[0].metrics.gold_mix)
    );
    report.models[0].therapies[2].metrics = compute(&[(Er, Some(Er)); 90]);
    assert_eq!(report.human_mix().unwrap().emotional_reaction, 1.0);
    report.models[0].therapies.clear();
    assert_eq!(report.human_mix(), None);
}

#[test]
fn terminal_table_lists_every_therapy_and_the_humans() {
    let text = terminal_table(&sample_report());
    for therapy in Therapy::ALL {
        assert!(
            text.contains(&format!(" {therapy} ")),
            "{therapy} missing:\n{text}"
        );
    }
    assert!(text.contains("human"));
    assert!(text.contains("99d90f8d8044b8fd"), "sha256 prefix");
    assert!(!text.contains("99d90f8d8044b8fd6"), "only a prefix");
    assert!(text.contains("llm.local:8080") && !text.contains("sk-secret"));
    assert!(text.contains("order:ip,er,ex"));
    // An empty run still renders.
    assert!(text.contains("Scores by the judge") && text.contains("The judge"));
    assert!(text.contains("majority class"));
    assert!(text.contains("cbt (judged)") && text.contains("cbt (claimed)"));
    // An empty run still renders.
    let mut empty = sample_report();
    empty.models[0].therapies.clear();
    empty.judge = None;
    let text = terminal_table(&empty);
    assert!(text.contains("Scores") && !text.contains("The judge"));
}

/// Compares two JSON trees, numbers within 1e-12 (serde_json's default
/// float parsing may differ from the written value in the last bit).
fn assert_json_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() < 1e-12, "{at}: {x} != {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_json_close(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (key, x) in x {
                assert_json_close(x, &y[key], &format!("{at}.{key}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn json_round_trips_the_numbers() {
    let report = sample_report();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    write_json(&report, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back.run, report.run);
    assert_json_close(
        &serde_json::to_value(&back).unwrap(),
        &serde_json::to_value(&report).unwrap(),
        "report",
    );
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["run"]["tie_rule"], "order:ip,er,ex");
    assert_eq!(value["run"]["prompt_versions"]["cbt"], "v1");
    assert_eq!(value["models"][0]["therapies"][1]["therapy"], "cbt");
    assert_eq!(value["judge"]["training"], "disjoint");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    let err = write_json(&report, &dir.path().join("no/such/dir.json")).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err}");
}

/// Checks that every opened element is closed in order (void `meta` and
/// self-closing `/>` aside) and returns how many `<svg>` elements there are.
fn check_balanced(html: &str) -> usize {
    let mut stack: Vec<&str> = Vec::new();
    let mut svgs = 0;
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').expect("unclosed tag");
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "misnested </{name}>");
            continue;
        }
        let name = tag.split_whitespace().next().unwrap();
        if name == "meta" {
            continue;
        }
        svgs += usize::from(name == "svg");
        stack.push(name);
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    svgs
}

#[test]
fn html_is_self_contained_escaped_and_balanced() {
    let report = sample_report();
    let page = html(&report);
    assert!(!page.to_lowercase().contains("<script"), "no scripts");
    assert!(page.contains(&esc(HOSTILE_PATH)) && page.contains(&esc(HOSTILE_MODEL)));
    // The only URL-looking text is inside the escaped metadata.
    let stripped = page.replace(&esc(HOSTILE_PATH), "");
    assert!(!stripped.contains("http"), "external reference in page");
    assert!(!page.contains("sk-secret"));
    assert_eq!(check_balanced(&page), 4);
    for needle in [
        "<title id=\"mix-t\">",
        "<title id=\"f1-t\">",
        "<title id=\"mix-judged-t\">",
        "<title id=\"accuracy-t\">",
        "as reported, not reproduced here",
        "0.319",
        "viewport",
        "<style>",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    for therapy in Therapy::ALL {
        assert!(
            page.contains(&format!("<h3>{therapy}</h3>")),
            "{therapy} matrix"
        );
        assert!(
            page.contains(&format!("<th scope=\"row\">{therapy}</th>")),
            "{therapy} row"
        );
    }
    assert!(page.contains(">human</text>"));

    let mut empty = report;
    empty.models[0].therapies.clear();
    empty.judge = None;
    assert_eq!(check_balanced(&html(&empty)), 3);
}

#[test]
fn several_models_stand_side_by_side() {
    let report = two_model_report();
    let text = terminal_table(&report);
    let first = text.find("cbt · default").expect("default's cbt row");
    let second = text.find("cbt · second").expect("second's cbt row");
    let next_therapy = text.find("dbt · default").expect("dbt row");
    assert!(
        first < second && second < next_therapy,
        "grouped by therapy:\n{text}"
    );
    assert!(text.contains("other-model @ llm.local:8080"));
    let page = html(&report);
    check_balanced(&page);
    assert!(page.contains("second, by the judge") && page.contains("default, own label"));
    assert!(page.contains(&format!("cbt · {}", esc(PAPER_LABEL))));
}

#[test]
fn escaping_covers_markup_and_quotes() {
    assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

/// Issue 11: every dataset-, run- or model-derived string that reaches the page carries a
/// payload; none of them becomes markup.
#[test]
fn payloads_in_every_text_field_stay_text() {
    let payloads = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "javascript:alert(document.cookie)",
        "'><svg onload=alert(1)>",
    ];
    let mut report = two_model_report();
    let run = &mut report.run;
    run.run_id = payloads[0].into();
    run.dataset_path = payloads[1].into();
    run.dataset_sha256 = payloads[2].into();
    run.models_file = Some(payloads[3].into());
    run.started_at = payloads[1].into();
    run.finished_at = payloads[0].into();
    for version in run.prompt_versions.values_mut() {
        *version = payloads[3].into();
    }
    for (i, model) in report.models.iter_mut().enumerate() {
        model.info.name = format!("{}{i}", payloads[i % 4]);
        model.info.model = payloads[(i + 1) % 4].into();
        model.info.base_url_host = payloads[(i + 2) % 4].into();
    }
    if let Some(judge) = report.judge.as_mut() {
        judge.method = payloads[0].into();
    }
    let page = html(&report);
    // Escaped, `onerror=` is only text: what must never appear is a payload's tag (the page's
    // own markup has `"><` of its own, so the escaped payloads are checked below).
    for raw in ["<script", "<img", "<svg onload", "href="] {
        assert!(!page.contains(raw), "{raw} unescaped in the page");
    }
    for payload in payloads {
        assert!(page.contains(&esc(payload)), "{payload} is shown, escaped");
    }
    check_balanced(&page);
}
