//! `cargo xtask review` and `data apply-review` run for real: the review console is started on
//! a fixture, its HTTP API filters, accepts, rejects, refuses invalid edits (400) and stale
//! decisions (409), saves a valid edit with re-executed observations, serves record text only
//! as JSON data under a strict CSP, guards the host and token; a restarted console resumes from
//! the log; apply-review writes the accepted records with their edits.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::{fails, lines, ok_stdout, s, xtask};
use serde_json::{Value, json};

/// Starts `xtask review` with `args` on a free loopback port and waits for its address.
fn console(args: &[&str]) -> common::Server {
    common::spawn_listening("review", args, &["AGENTUNE_REVIEW_TOKEN"])
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request; `extra` are whole header lines.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>, extra: &[&str]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let b = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !extra
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        head.push_str("Host: 127.0.0.1\r\n");
    }
    if body.is_some()
        && !extra
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("content-type:"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    write!(s, "{head}Content-Length: {}\r\n\r\n{b}", b.len()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        headers: headers.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

fn get(addr: &str, path: &str) -> Value {
    let r = http(addr, "GET", path, None, &[]);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

fn post(addr: &str, id: &str, action: &str, body: &Value) -> Reply {
    http(
        addr,
        "POST",
        &format!("/api/records/{id}/{action}"),
        Some(body),
        &[],
    )
}

/// The fixture copied into `dir` (the review log is written beside it).
fn fixture(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("records.jsonl");
    std::fs::copy(common::fixture("review/records.jsonl"), &data).unwrap();
    data
}

/// The first calling step of a record, its first call's arguments and observation.
fn first_call(record: &Value) -> (usize, Value, String) {
    let steps = record["steps"].as_array().unwrap();
    let i = steps
        .iter()
        .position(|s| s["step"]["calls"].as_array().is_some_and(|c| !c.is_empty()))
        .unwrap();
    (
        i,
        steps[i]["step"]["calls"][0]["arguments"].clone(),
        steps[i]["observations"][0]["content"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[test]
fn review_console_decides_edits_resumes_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let original = std::fs::read(&data).unwrap();
    let c = console(&["--data", s(&data)]);

    // The queue, filters and counts.
    let all = get(&c.addr, "/api/records");
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 5, "{all}");
    assert_eq!(all["counts"]["pending"], total);
    let units = get(&c.addr, "/api/records?scenario=units");
    assert!(units["shown"].as_u64().unwrap() >= 3, "{units}");
    assert!(units["shown"].as_u64().unwrap() < total);
    assert!(
        units["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["scenario"] == "units")
    );
    let failed = get(&c.addr, "/api/records?validation=failed");
    let failed_ids: Vec<&str> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(failed_ids.contains(&"review-bad-args"), "{failed}");
    let schema = get(&c.addr, "/api/records?validation=schema");
    assert_eq!(schema["shown"], 1, "{schema}");
    let ids: Vec<String> = units["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let (a, b, e) = (&ids[0], &ids[1], &ids[2]);

    // Markup in a record is only ever JSON data; the page has no inline script and a CSP.
    let page = http(&c.addr, "GET", "/", None, &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.headers
            .contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{}",
        page.headers
    );
    assert!(page.body.contains("<script src=\"app.js\"></script>"));
    assert_eq!(page.body.matches("<script").count(), 1);
    let xss = http(&c.addr, "GET", "/api/records/review-xss", None, &[]);
    assert_eq!(xss.status, 200);
    assert!(xss.headers.contains("content-type: application/json"));
    assert!(xss.headers.contains("x-content-type-options: nosniff"));
    let detail = xss.json();
    let obs = detail["record"]["steps"][0]["observations"][0]["content"]
        .as_str()
        .unwrap();
    assert!(obs.contains("<script>"), "{obs}");
    let script = http(&c.addr, "GET", "/app.js", None, &[]);
    for sink in [
        ".innerHTML",
        ".outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(
            !script.body.contains(sink),
            "the page never parses data as markup: {sink}"
        );
    }

    // Accept, then a second tab's decision on the old revision is a conflict.
    let da = get(&c.addr, &format!("/api/records/{a}"));
    let base_a = da["revision"].as_str().unwrap().to_owned();
    let r = post(&c.addr, a, "accept", &json!({"base": base_a}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["record"]["state"], "accepted");
    let r = post(
        &c.addr,
        a,
        "reject",
        &json!({"base": base_a, "reason": "other"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("changed"));

    // Reject with a reason.
    let db = get(&c.addr, &format!("/api/records/{b}"));
    let r = post(
        &c.addr,
        b,
        "reject",
        &json!({"base": db["revision"], "reason": "wrong_answer"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // Edit a call's arguments: invalid JSON and a schema violation are refused with the
    // field, a valid value is saved and its observation re-executed.
    let de = get(&c.addr, &format!("/api/records/{e}"));
    let base_e = de["revision"].as_str().unwrap().to_owned();
    let (step, args, before) = first_call(&de["record"]);
    let edit = |arguments: Value| json!({"base": base_e, "edits": [{"field": "arguments", "step": step, "call": 0, "arguments": arguments}]});
    for bad in [
        json!("{\"value\": "),
        json!({"value": "ten", "from_unit": "m", "to_unit": "ft"}),
    ] {
        let r = post(&c.addr, e, "edit", &edit(bad));
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(
            r.json()["field"],
            format!("steps[{step}].step.calls[0].arguments")
        );
    }
    let mut good = args.clone();
    let v = good["value"].as_f64().unwrap();
    good["value"] = json!(v + 2.0);
    let r = post(&c.addr, e, "edit", &edit(Value::String(good.to_string())));
    assert_eq!(r.status, 200, "{}", r.body);
    let saved = r.json();
    assert_eq!(saved["record"]["state"], "edited");
    let (_, now_args, after) = first_call(&saved["record"]["record"]);
    assert_eq!(now_args, good);
    assert_ne!(after, before, "the observation is re-executed");
    assert!(
        saved["decision"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("re-executed")
    );

    // Host and content-type guards.
    let r = http(
        &c.addr,
        "GET",
        "/api/records",
        None,
        &["Host: evil.example"],
    );
    assert_eq!(r.status, 403);
    let r = http(
        &c.addr,
        "POST",
        &format!("/api/records/{a}/accept"),
        Some(&json!({"base": "x"})),
        &["Content-Type: text/plain"],
    );
    assert_eq!(r.status, 415);
    drop(c);

    // The log: one line per decision, with time, base and diff; the data file is untouched.
    let log = dir.path().join("records.jsonl.review.jsonl");
    let decisions = lines(&log);
    let actions: Vec<&str> = decisions
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["accept", "reject", "edit"]);
    assert!(
        decisions
            .iter()
            .all(|d| d["time"].as_str().unwrap().ends_with('Z'))
    );
    assert_eq!(decisions[1]["reason"], "wrong_answer");
    let diff = decisions[2]["diff"].as_array().unwrap();
    assert!(diff.iter().any(|c| c["path"]
        == format!("/steps/{step}/step/calls/0/arguments/value")
        && c["before"] == args["value"]
        && c["after"] == good["value"]));
    assert_eq!(std::fs::read(&data).unwrap(), original);

    // Resume: a new console starts where the first stopped; accept the edited record.
    let c = console(&["--data", s(&data)]);
    let all = get(&c.addr, "/api/records");
    assert_eq!(all["counts"]["accepted"], 1);
    assert_eq!(all["counts"]["rejected"], 1);
    assert_eq!(all["counts"]["edited"], 1);
    let de = get(&c.addr, &format!("/api/records/{e}"));
    assert_eq!(first_call(&de["record"]).1, good);
    let r = post(&c.addr, e, "accept", &json!({"base": de["revision"]}));
    assert_eq!(r.status, 200, "{}", r.body);
    drop(c);

    // apply-review: the accepted records, edits included, in file order.
    let out = dir.path().join("reviewed.jsonl");
    let rejected = dir.path().join("rejected.jsonl");
    let report: Value = serde_json::from_str(&ok_stdout(&xtask(&[
        "data",
        "apply-review",
        "--data",
        s(&data),
        "--output",
        s(&out),
        "--rejected",
        s(&rejected),
    ])))
    .unwrap();
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["accepted_edited"], 1);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["written"], 2);
    let kept = lines(&out);
    let kept_ids: Vec<&str> = kept.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(kept_ids, [a.as_str(), e.as_str()]);
    assert_eq!(first_call(&kept[1]).1, good);
    assert!(
        kept[1]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "review" && c["passed"] == true)
    );
    let dropped = lines(&rejected);
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["id"], b.as_str());

    // --keep-pending keeps the undecided records too.
    let out2 = dir.path().join("all.jsonl");
    ok_stdout(&xtask(&[
        "data",
        "apply-review",
        "--data",
        s(&data),
        "--output",
        s(&out2),
        "--keep-pending",
    ]));
    assert_eq!(lines(&out2).len() as u64, total - 1);
}

#[test]
fn review_console_needs_a_token_off_loopback_and_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture(dir.path());
    let err = fails(&xtask(&["review", "--data", s(&data), "--host", "0.0.0.0"]));
    assert!(err.contains("--token"), "{err}");
    let c = console(&["--data", s(&data), "--token", "s3cret"]);
    let r = http(&c.addr, "GET", "/api/records", None, &[]);
    assert_eq!(r.status, 401, "{}", r.body);
    let r = http(&c.addr, "GET", "/", None, &["X-Review-Token: wrong"]);
    assert_eq!(r.status, 401);
    let r = http(
        &c.addr,
        "GET",
        "/api/records",
        None,
        &["X-Review-Token: s3cret"],
    );
    assert_eq!(r.status, 200);
    // Opening the page with ?token= sets a cookie the page's own requests then carry.
    let r = http(&c.addr, "GET", "/?token=s3cret", None, &[]);
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .contains("set-cookie: agentune_review_token=s3cret"),
        "{}",
        r.headers
    );
    assert!(r.headers.contains("httponly"));
    let r = http(
        &c.addr,
        "GET",
        "/app.js",
        None,
        &["Cookie: agentune_review_token=s3cret"],
    );
    assert_eq!(r.status, 200);
    let err = fails(&xtask(&[
        "review",
        "--data",
        s(&dir.path().join("missing.jsonl")),
    ]));
    assert!(err.contains("missing.jsonl"), "{err}");
}
