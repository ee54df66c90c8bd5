//! The command line: verdict lines, the summary, explanations, `--json`,
//! `--html`, and Jepsen's exit codes (0 linearizable, 1 not, 2 unknown, 254
//! bad arguments or input).

mod common;

use common::testdata;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jepsen-lite"))
        .args(args)
        .current_dir(testdata())
        .output()
        .expect("the binary runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

#[test]
fn linearizable_histories_exit_0() {
    let out = run(&["check", "kv/c01-ok.txt", "jepsen/etcd_002.log"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kv/c01-ok.txt: linearizable (58 ops, 10 partitions, "),
        "{text}"
    );
    assert!(
        text.contains("jepsen/etcd_002.log: linearizable (77 ops, 1 partition, "),
        "{text}"
    );
    assert!(
        text.contains("2 histories: 2 linearizable, 0 not, 0 unknown in "),
        "{text}"
    );
}

#[test]
fn a_violation_exits_1_and_is_explained() {
    let out = run(&[
        "check",
        "--model",
        "register",
        "--format",
        "jepsen-etcd",
        "jepsen/etcd_000.log",
        "jepsen/etcd_002.log",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "jepsen/etcd_000.log: NOT linearizable (85 ops, 1 partition, ",
        "partition register (85 operations) is not linearizable",
        "longest partial linearization: ",
        "first operation that could not be linearized:",
        "rejected by the model in states: ",
        "2 histories: 1 linearizable, 1 not, 0 unknown in ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn a_timeout_exits_2() {
    let out = run(&["check", "--timeout", "0.001", "kv/c50-ok.txt"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kv/c50-ok.txt: UNKNOWN (timed out; 1712 ops, 10 partitions, "),
        "{text}"
    );
    assert!(
        text.contains("1 history: 0 linearizable, 0 not, 1 unknown in "),
        "{text}"
    );
    // A violation outranks an unknown.
    let out = run(&[
        "check",
        "--timeout",
        "0.001",
        "kv/c50-ok.txt",
        "jepsen/etcd_000.log",
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
}

#[test]
fn bad_arguments_and_input_exit_254() {
    for args in [
        &[][..],
        &["check"],
        &["frobnicate"],
        &["check", "--model", "queue", "kv/c01-ok.txt"],
        &["check", "--format", "xml", "kv/c01-ok.txt"],
        &["check", "--timeout", "soon", "kv/c01-ok.txt"],
        &["check", "--timeout", "0", "kv/c01-ok.txt"],
        &["check", "--threads", "-1", "kv/c01-ok.txt"],
    ] {
        let out = run(args);
        assert_eq!(code(&out), 254, "{args:?}: {}", stderr(&out));
    }
    // A missing file, a format that does not fit, a model that does not fit.
    let out = run(&["check", "no/such/file.log", "kv/c01-ok.txt"]);
    assert_eq!(code(&out), 254);
    assert!(
        stderr(&out).contains("no/such/file.log: cannot read"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("2 histories: 1 linearizable, 0 not, 0 unknown, 1 with errors"));
    let out = run(&["check", "--format", "porcupine-kv", "jepsen/etcd_000.log"]);
    assert_eq!(code(&out), 254);
    assert!(
        stderr(&out).contains("jepsen/etcd_000.log:1: "),
        "{}",
        stderr(&out)
    );
    let out = run(&["check", "--model", "kv", "jepsen/etcd_000.log"]);
    assert_eq!(code(&out), 254);
    // A malformed line names the file and the line.
    let bad = scratch("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 1}\n{\"process\": 0, \"type\": \"ok\", \"f\": \"read\", \"value\": \"x\", \"time\": 2}\n",
    )
    .unwrap();
    let out = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 254);
    assert!(
        stderr(&out).contains(&format!("{}:2: ", bad.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["check", "--help"],
        &["help"],
    ] {
        let out = run(args);
        assert_eq!(code(&out), 0, "{args:?}");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn json_output_is_machine_readable() {
    let out = run(&[
        "check",
        "--json",
        "kv/c01-bad.txt",
        "kv/c01-ok.txt",
        "no/such/file",
    ]);
    assert_eq!(code(&out), 254);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0]["file"], "kv/c01-bad.txt");
    assert_eq!(files[0]["format"], "porcupine-kv");
    assert_eq!(files[0]["verdict"], "not-linearizable");
    assert_eq!(files[0]["operations"], 38);
    let failure = &files[0]["failure"];
    assert!(failure["partition"].as_str().unwrap().starts_with("key "));
    assert!(
        failure["stuck"]["description"]
            .as_str()
            .unwrap()
            .starts_with("get(")
    );
    assert!(failure["longest"].is_array());
    assert_eq!(files[1]["verdict"], "linearizable");
    assert!(files[1]["failure"].is_null());
    assert!(files[2]["error"].as_str().unwrap().contains("cannot read"));
    let summary = &v["summary"];
    assert_eq!(summary["histories"], 3);
    assert_eq!(summary["linearizable"], 1);
    assert_eq!(summary["not_linearizable"], 1);
    assert_eq!(summary["errors"], 1);
    assert_eq!(summary["exit_code"], 254);
}

#[test]
fn jsonl_histories_with_nemesis_events_check() {
    let file = scratch("register.jsonl");
    std::fs::write(
        &file,
        r#"{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 100}
{"process": "nemesis", "type": "info", "f": "start-partition", "value": ["n1"], "time": 120}
{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 200}
{"process": 1, "type": "invoke", "f": "read", "value": null, "time": 300}
{"process": 1, "type": "ok", "f": "read", "value": 1, "time": 400}
{"process": 2, "type": "invoke", "f": "cas", "value": [1, 2], "time": 500}
{"process": 2, "type": "info", "f": "cas", "value": [1, 2], "time": 600}
{"process": 1, "type": "invoke", "f": "read", "value": null, "time": 700}
{"process": 1, "type": "ok", "f": "read", "value": 2, "time": 800}
"#,
    )
    .unwrap();
    let out = run(&["check", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // Reading 1 after the CAS was seen to take effect is a violation.
    let bad = scratch("register-bad.jsonl");
    let text = std::fs::read_to_string(&file).unwrap()
        + "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"time\": 900}\n{\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"value\": 1, \"time\": 950}\n";
    std::fs::write(&bad, text).unwrap();
    let out = run(&[
        "check",
        "--format",
        "jsonl",
        "--model",
        "register",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("read() -> 1"), "{}", stdout(&out));
}

#[test]
fn html_output_is_self_contained() {
    let page = scratch("out.html");
    let out = run(&[
        "check",
        "--html",
        page.to_str().unwrap(),
        "jepsen/etcd_000.log",
        "kv/c01-ok.txt",
    ]);
    assert_eq!(code(&out), 1);
    let html = std::fs::read_to_string(&page).expect("the page was written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page must not fetch anything"
    );
    assert!(!html.contains(" src="), "no external resources");
    assert!(html.contains("jepsen/etcd_000.log"));
    assert!(html.contains("NOT linearizable"));
    assert!(html.contains("kv/c01-ok.txt"));
    assert!(
        html.contains("class=\"op stuck"),
        "the failing operation is highlighted"
    );
    assert!(html.contains("could not be linearized"));
    // A bad --html path is an error after the verdicts.
    let out = run(&["check", "--html", "/no/such/dir/x.html", "kv/c01-ok.txt"]);
    assert_eq!(code(&out), 254);
}

#[test]
fn histories_without_a_completed_operation_have_nothing_to_check() {
    let cases = [
        ("empty.jsonl", "", "0 ops"),
        ("blank.jsonl", "\n\n  \n", "0 ops"),
        (
            "open.jsonl",
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\",\"value\":1,\"time\":1}\n",
            "1 unfinished",
        ),
    ];
    for (name, text, says) in cases {
        let path = scratch(name);
        std::fs::write(&path, text).unwrap();
        let out = run(&[
            "check",
            path.to_str().unwrap(),
            "--format",
            "jsonl",
            "--model",
            "register",
        ]);
        assert_eq!(code(&out), 2, "{name}: {}", stdout(&out));
        let stdout = stdout(&out);
        assert!(stdout.contains("nothing to check"), "{name}: {stdout}");
        assert!(stdout.contains(says), "{name}: {stdout}");
        assert!(
            stdout.contains("1 with nothing to check"),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn unfinished_operations_are_counted_in_the_verdict_line() {
    let path = scratch("cut.jsonl");
    std::fs::write(
        &path,
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\",\"value\":1,\"time\":1}\n\
         {\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"k\",\"value\":1,\"time\":5}\n\
         {\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\",\"value\":null,\"time\":6}\n",
    )
    .unwrap();
    let out = run(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("(2 ops, 1 unfinished, 1 partition"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_read_of_a_value_never_written_is_diagnosed() {
    // Key "k": put "a", append "b" (indeterminate), then a get of "ax",
    // which no put or append makes; key "j" is fine.
    let file = scratch("kv-never-written.jsonl");
    std::fs::write(
        &file,
        r#"{"process": 0, "type": "invoke", "f": "put", "key": "k", "value": "a", "time": 100}
{"process": 0, "type": "ok", "f": "put", "key": "k", "value": "a", "time": 200}
{"process": 1, "type": "invoke", "f": "append", "key": "k", "value": "b", "time": 300}
{"process": 1, "type": "info", "f": "append", "key": "k", "value": "b", "time": 400}
{"process": 2, "type": "invoke", "f": "put", "key": "j", "value": "z", "time": 450}
{"process": 2, "type": "ok", "f": "put", "key": "j", "value": "z", "time": 460}
{"process": 0, "type": "invoke", "f": "get", "key": "k", "value": null, "time": 500}
{"process": 0, "type": "ok", "f": "get", "key": "k", "value": "ax", "time": 600}
"#,
    )
    .unwrap();
    let out = run(&[
        "check",
        "--format",
        "jsonl",
        "--model",
        "kv",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "    diagnosis: value \"ax\" was never written: no put of key \"k\" (however it ended), nor its initial \"\", followed by any of its appends makes it\n"
        ),
        "{text}"
    );
    // The diagnosis follows the failing operation.
    let failing = text.find("get(\"k\") -> \"ax\"").expect("the failing get");
    assert!(text.find("diagnosis:") > Some(failing), "{text}");
    // A stale read of a written value ("a" after "ab" was read) is not
    // diagnosed.
    let stale = scratch("kv-stale.jsonl");
    let history = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"value\": \"ax\"", "\"value\": \"ab\"")
        + "{\"process\": 0, \"type\": \"invoke\", \"f\": \"get\", \"key\": \"k\", \"value\": null, \"time\": 700}\n{\"process\": 0, \"type\": \"ok\", \"f\": \"get\", \"key\": \"k\", \"value\": \"a\", \"time\": 800}\n";
    std::fs::write(&stale, history).unwrap();
    let out = run(&[
        "check",
        "--format",
        "jsonl",
        "--model",
        "kv",
        stale.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("diagnosis"), "{}", stdout(&out));
    // --json carries it too.
    let out = run(&[
        "check",
        "--json",
        "--format",
        "jsonl",
        "--model",
        "kv",
        file.to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let text = json.to_string();
    assert!(
        text.contains("\"diagnosis\":\"value \\\"ax\\\" was never written"),
        "{text}"
    );
}
