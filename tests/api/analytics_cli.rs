//! `rapport analytics` as a user meets it: malformed files are errors with their line, and a fit
//! on too little data says so.

fn run(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the rapport binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}", uuid::Uuid::now_v7()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_malformed_transaction_row_is_an_error_with_its_line() {
    for (row, says) in [
        ("c2,2025-02-01,12,50", "4 fields, the header has 3"),
        ("c2,2025-02-01,0", "above zero"),
    ] {
        let tx = file(
            "tx.csv",
            &format!("customer_id,date,amount\nc1,2025-01-01,5\n{row}\n"),
        );
        let path = tx.to_str().unwrap();
        for cmd in [
            vec![
                "analytics",
                "clv",
                "--transactions",
                path,
                "--calibration-end",
                "2025-06-30",
            ],
            vec![
                "analytics",
                "rfm",
                "--transactions",
                path,
                "--as-of",
                "2025-06-30",
            ],
        ] {
            let (ok, _, stderr) = run(&cmd);
            assert!(!ok, "{row}: {cmd:?}");
            assert!(
                stderr.contains("line 3") && stderr.contains(says),
                "{row}: {cmd:?}: {stderr}"
            );
        }
        std::fs::remove_file(tx).unwrap();
    }
}

#[test]
fn a_clv_fit_on_too_few_customers_warns_and_options_are_its_own() {
    let tx = file(
        "few.csv",
        "customer_id,date,amount\nc1,2025-01-01,5\nc1,2025-02-01,7\nc2,2025-01-10,9\nc3,2025-03-01,4\nc3,2025-03-20,6\n",
    );
    let path = tx.to_str().unwrap();
    let (ok, stdout, stderr) = run(&[
        "analytics",
        "clv",
        "--transactions",
        path,
        "--calibration-end",
        "2025-06-30",
        "--horizon",
        "39w",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("warning: BG/NBD was fitted on 3 customers"),
        "{stderr}"
    );
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(!out["warnings"].as_array().unwrap().is_empty(), "{out}");
    assert!(
        (out["horizon_months"].as_f64().unwrap() - 39.0 / 4.345).abs() < 1e-9,
        "{out}"
    );
    // The analytics commands take no server or database options.
    let (_, help, _) = run(&["analytics", "clv", "--help"]);
    for foreign in ["--bind", "--database-url", "--jwt-secret", "--workers"] {
        assert!(!help.contains(foreign), "{foreign} in: {help}");
    }
    std::fs::remove_file(tx).unwrap();
}

#[test]
fn clusters_rfm_and_attribution_run_on_files_in_json_and_csv() {
    let mut text = String::from("customer_id,date,amount\n");
    for c in 0..60 {
        for i in 0..(1 + c % 5) {
            text.push_str(&format!(
                "c{c},2025-{:02}-{:02},{}.50\n",
                1 + (c + i) % 12,
                1 + i,
                5 + c * 3
            ));
        }
    }
    let tx = file("many.csv", &text);
    let path = tx.to_str().unwrap();
    let (ok, stdout, stderr) = run(&[
        "analytics",
        "clusters",
        "--transactions",
        path,
        "--as-of",
        "2025-12-31",
        "--k",
        "3",
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let sizes: u64 = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(sizes, 60);
    assert_eq!(v["customers"].as_array().unwrap().len(), 60);
    let (ok, stdout, _) = run(&[
        "analytics",
        "clusters",
        "--transactions",
        path,
        "--as-of",
        "2025-12-31",
        "--k",
        "3",
        "--output",
        "csv",
    ]);
    assert!(ok);
    assert_eq!(stdout.lines().count(), 61);
    assert!(stdout.starts_with("customer_id,cluster,"));
    let (ok, _, stderr) = run(&[
        "analytics",
        "clusters",
        "--transactions",
        path,
        "--as-of",
        "2025-12-31",
        "--k",
        "61",
    ]);
    assert!(!ok && stderr.contains("--k 61"), "{stderr}");
    let (ok, stdout, _) = run(&[
        "analytics",
        "rfm",
        "--transactions",
        path,
        "--as-of",
        "2025-12-31",
        "--output",
        "csv",
    ]);
    assert!(ok);
    assert_eq!(stdout.lines().count(), 61);
    assert!(stdout.starts_with("customer_id,recency_days,frequency,monetary"));
    std::fs::remove_file(tx).unwrap();

    let paths = file("paths.csv", "path,total_conversions,total_conversion_value,total_null\nsearch > email,3,30.5,10\nemail,1,10,4\n");
    let (ok, stdout, stderr) = run(&[
        "analytics",
        "attribution",
        "--paths",
        paths.to_str().unwrap(),
        "--model",
        "linear",
        "--output",
        "csv",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.lines().next().unwrap(),
        "model,channel,conversions,value,conversion_share,value_share,removal_effect"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    std::fs::remove_file(paths).unwrap();
}
