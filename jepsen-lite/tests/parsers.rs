//! Parsers: a malformed line is an error naming the file and the line, and
//! no input, however garbled, makes a parser panic.
//!
//! The fuzz tests use a `TestRunner` with a fixed seed (see `seeded_runner`)
//! so they are deterministic and independent of `PROPTEST_RNG_SEED`.

use jepsen_lite::format::{
    self, Format, ModelKind, ParseError, ParsedHistory, jepsen_etcd, jsonl, porcupine_kv,
};
use proptest::prelude::*;

mod common;

use common::seeded_runner;

fn line_of(err: ParseError) -> (String, usize) {
    match err {
        ParseError::Line { file, line, .. } => (file, line),
        other => panic!("expected a line error, got {other}"),
    }
}

#[test]
fn a_bad_line_is_reported_with_file_and_line() {
    let etcd =
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\nINFO  jepsen.util - 0\t:ok\t:read\tfour\n";
    let err = jepsen_etcd::parse("h/etcd.log", etcd).unwrap_err();
    assert!(err.to_string().starts_with("h/etcd.log:3: "), "{err}");
    assert_eq!(line_of(err), ("h/etcd.log".to_string(), 3));

    let kv = "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n{:process 0, :type :ok, :f :get, :key \"1\", :value \"x}\n";
    assert_eq!(
        line_of(porcupine_kv::parse("kv.txt", kv).unwrap_err()),
        ("kv.txt".to_string(), 2)
    );

    let jl = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 1}\n{\"process\": 0, \"type\": \"ok\", \"f\": \"read\", \"value\": 1, \"time\": 2\n";
    let err = jsonl::parse_register("h.jsonl", jl).unwrap_err();
    assert!(
        err.to_string().starts_with("h.jsonl:2: invalid JSON"),
        "{err}"
    );
}

#[test]
fn format_and_model_resolution() {
    let jl =
        "{\"process\": 0, \"type\": \"invoke\", \"f\": \"get\", \"key\": \"a\", \"time\": 1}\n";
    assert!(matches!(
        format::parse("a", jl, None, None),
        Ok(ParsedHistory::Kv(_))
    ));
    assert!(matches!(
        format::parse("a", jl, None, Some(ModelKind::Register)),
        Err(ParseError::Line { line: 1, .. })
    ));
    let etcd = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    assert!(matches!(
        format::parse("e", etcd, None, None),
        Ok(ParsedHistory::Register(_))
    ));
    let err = format::parse("e", etcd, None, Some(ModelKind::Kv)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "e: the jepsen-etcd format holds register histories, not kv"
    );
    let err = format::parse("x", "hello\n", None, None).unwrap_err();
    assert!(matches!(err, ParseError::File { .. }), "{err}");
    assert!(matches!(
        format::parse("x", "hello\n", Some(Format::Jsonl), None),
        Err(ParseError::File { .. })
    ));
    assert!(matches!(
        format::parse("x", "hello\n", Some(Format::Jsonl), Some(ModelKind::Kv)),
        Err(ParseError::Line { line: 1, .. })
    ));
    assert!(format::parse("x", "\n  \n", None, None).unwrap().is_empty());
}

/// Lines made of the formats' own tokens, so that many get far into the
/// parsers before going wrong.
fn garbled_line() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("INFO".to_string()),
        Just("jepsen.util".to_string()),
        Just("-".to_string()),
        Just(":invoke".to_string()),
        Just(":ok".to_string()),
        Just(":fail".to_string()),
        Just(":info".to_string()),
        Just(":read".to_string()),
        Just(":write".to_string()),
        Just(":cas".to_string()),
        Just(":get".to_string()),
        Just(":nemesis".to_string()),
        Just("nil".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(",".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just(":process".to_string()),
        Just(":type".to_string()),
        Just(":f".to_string()),
        Just(":key".to_string()),
        Just(":value".to_string()),
        Just("\"process\":".to_string()),
        Just("\"type\":".to_string()),
        Just("\"f\":".to_string()),
        Just("\"time\":".to_string()),
        Just("\"value\":".to_string()),
        Just("\"invoke\"".to_string()),
        Just("\"ok\"".to_string()),
        Just("\"read\"".to_string()),
        Just("\"nemesis\"".to_string()),
        (0i64..5).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "\\PC{0,4}",
    ];
    prop::collection::vec(token, 0..12).prop_map(|t| t.join(" "))
}

#[test]
fn garbled_input_never_panics() {
    let mut runner = seeded_runner(4000, 7);
    runner
        .run(&prop::collection::vec(garbled_line(), 0..8), |lines| {
            let text = lines.join("\n");
            for f in Format::ALL {
                for m in [None, Some(ModelKind::Register), Some(ModelKind::Kv)] {
                    if let Err(ParseError::Line { file, line, .. }) =
                        format::parse("fuzz", &text, Some(f), m)
                    {
                        prop_assert_eq!(file, "fuzz");
                        prop_assert!(line >= 1 && line <= lines.len());
                    }
                }
            }
            let _ = format::parse("fuzz", &text, None, None);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut runner = seeded_runner(2000, 8);
    runner
        .run(&"\\PC{0,200}", |text| {
            for f in Format::ALL {
                let _ = format::parse("fuzz", &text, Some(f), Some(ModelKind::Register));
                let _ = format::parse("fuzz", &text, Some(f), Some(ModelKind::Kv));
            }
            let _ = format::parse("fuzz", &text, None, None);
            Ok(())
        })
        .unwrap();
}
