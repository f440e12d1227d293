//! The container's `/etc/resolv.conf` on the bridge network.

use alloc::string::String;
use alloc::vec::Vec;

/// The `/etc/resolv.conf` for a container on the bridge: the host's, unless it names a
/// loopback resolver (such as systemd-resolved's 127.0.0.53), which the container cannot
/// reach; then public resolvers, saying so in a comment.
pub(crate) fn resolv_conf(host: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(host);
    let loopback = text.lines().any(|l| {
        let mut f = l.split_ascii_whitespace();
        f.next() == Some("nameserver")
            && f.next()
                .is_some_and(|a| a.starts_with("127.") || a == "::1" || a == "0.0.0.0")
    });
    if !loopback && text.lines().any(|l| l.starts_with("nameserver")) {
        return host.to_vec();
    }
    let mut out = String::from(
        "# isolate: the host's resolver is on its loopback (or none is set), which the\n\
         # container cannot reach: public resolvers are used instead.\n",
    );
    for l in text.lines() {
        if l.starts_with("search") || l.starts_with("options") {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("nameserver 1.1.1.1\nnameserver 8.8.8.8\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_replaces_only_loopback_resolvers() {
        let host = b"search example.org\nnameserver 10.255.255.53\n";
        assert_eq!(resolv_conf(host), host.to_vec());
        let out = String::from_utf8(resolv_conf(b"nameserver 127.0.0.53\nsearch lan\n")).unwrap();
        assert!(out.starts_with("# isolate:"));
        assert!(out.contains("search lan\n") && out.contains("nameserver 1.1.1.1\n"));
        assert!(!out.contains("127.0.0.53"));
        assert!(
            String::from_utf8(resolv_conf(b""))
                .unwrap()
                .contains("nameserver 8.8.8.8")
        );
    }
}
