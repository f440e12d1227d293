//! httpd with a real client: curl fetches a page, a range, and a conditional request.

mod httpd_support;

use std::process::Command;

use httpd_support::*;

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D", "-", "-o", "/dev/stderr"])
        .args(args)
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.stderr,
    )
}

#[test]
fn curl_page_range_and_conditional() {
    let d = TempDir::new("curl");
    d.write("index.html", b"<p>hello curl</p>\n");
    d.write("data/blob.bin", &pattern(200_000));
    let s = Server::start(d.path(), &[]);
    let base = format!("http://127.0.0.1:{}", s.port);

    let (head, body) = curl(&[&format!("{base}/")]);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert_eq!(body, b"<p>hello curl</p>\n");

    let (head, body) = curl(&["-r", "100-199", &format!("{base}/data/blob.bin")]);
    assert!(
        head.starts_with("HTTP/1.1 206 Partial Content\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Content-Range: bytes 100-199/200000"),
        "{head}"
    );
    assert!(body == pattern(200_000)[100..200]);

    let etag = head_field(&head, "ETag").expect("etag").to_string();
    let (head, body) = curl(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &format!("{base}/data/blob.bin"),
    ]);
    assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{head}");
    assert!(body.is_empty());
    // curl's own conditional: -z with a date after the file's mtime.
    let (head, _) = curl(&[
        "-z",
        "Fri, 01 Jan 2100 00:00:00 GMT",
        &format!("{base}/index.html"),
    ]);
    assert!(head.starts_with("HTTP/1.1 304"), "{head}");

    // Several URLs over one keep-alive connection.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{num_connects} ",
        ])
        .arg(format!("{base}/"))
        .arg(format!("{base}/data/blob.bin"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 0",
        "second transfer reused the connection"
    );
}
