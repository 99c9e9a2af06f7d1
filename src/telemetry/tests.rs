use super::*;

#[test]
fn an_unset_or_empty_address_leaves_the_endpoint_off() {
    assert_eq!(parse_addr(None), Ok(None));
    assert_eq!(parse_addr(Some("  ")), Ok(None));
}

#[test]
fn an_address_is_an_ip_and_a_port() {
    let addr = parse_addr(Some(" 127.0.0.1:9464 ")).unwrap();
    assert_eq!(addr, Some("127.0.0.1:9464".parse().unwrap()));
    let addr = parse_addr(Some("[::1]:9464")).unwrap();
    assert_eq!(addr, Some("[::1]:9464".parse().unwrap()));
}

#[test]
fn a_bad_address_says_what_was_expected_and_what_it_got() {
    for bad in ["localhost:9464", "9464", "127.0.0.1"] {
        let problem = parse_addr(Some(bad)).unwrap_err();
        assert!(problem.contains("127.0.0.1:9464"), "{problem}");
        assert!(problem.contains(&format!("'{bad}'")), "{problem}");
    }
}

/// The recorder is process-wide: this test installs it for the whole test
/// binary, which is harmless (the other tests' metrics just get counted).
#[test]
fn recorded_values_render_with_their_labels_and_buckets() {
    let handle = recorder::handle().expect("recorder installs");
    message_handled("slash", "replied");
    gate_tier("concern");
    model_latency(Duration::from_millis(300), "ok");
    model_in_flight(3);
    model_queued(7);
    model_limit(12);
    writer_batch(40);
    let text = handle.render();
    let has = |line: &str| text.lines().any(|l| l.starts_with(line));
    assert!(
        has(r#"coe_messages_total{source="slash",outcome="replied"} "#),
        "{text}"
    );
    assert!(has(r#"coe_gate_tier_total{tier="concern"} "#), "{text}");
    assert!(
        has(r#"coe_model_request_seconds_bucket{outcome="ok",le="0.5"} "#),
        "{text}"
    );
    assert!(
        has(r#"coe_model_request_seconds_bucket{outcome="ok",le="120"} "#),
        "{text}"
    );
    assert!(has("coe_model_in_flight 3"), "{text}");
    assert!(has("coe_model_queued 7"), "{text}");
    assert!(has("coe_model_concurrency_limit 12"), "{text}");
    assert!(has(r#"coe_store_batch_rows_bucket{le="64"} "#), "{text}");
    assert!(has(r#"coe_store_batch_rows_bucket{le="512"} "#), "{text}");
    assert!(has("# HELP coe_messages_total "), "{text}");
}

#[test]
fn the_recorder_is_installed_once_and_shared() {
    let first = recorder::handle().expect("recorder installs");
    // A second install would fail: the `metrics` facade takes one recorder.
    let second = recorder::handle().expect("the same recorder again");
    gate_tier("mention");
    for handle in [first, second] {
        assert!(handle
            .render()
            .contains(r#"coe_gate_tier_total{tier="mention"}"#));
    }
}
