//! `Accept-Encoding` (RFC 9110 12.5.3): which precompressed sibling, if any, a client gets.

use crate::files::Coding;
use crate::respond::trim;

/// A weight in thousandths (`q=0.5` is 500).
type Weight = u16;

/// The weights an `Accept-Encoding` field (all its lines) gives to what this server can send.
/// `None` where the field does not name the coding.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AcceptEncoding {
    /// By [`Coding::ALL`] index: br, zstd, gzip (`x-gzip` counts as gzip).
    codings: [Option<Weight>; 3],
    identity: Option<Weight>,
    star: Option<Weight>,
    /// Whether the request had the field at all.
    present: bool,
}

/// A `qvalue` (`0`, `0.5`, `1.000`, ...), in thousandths; `None` if malformed.
fn qvalue(v: &[u8]) -> Option<Weight> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(p) => (&v[..p], &v[p + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: Weight = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| Weight::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl AcceptEncoding {
    /// Adds one line of the field: `#( codings [ weight ] )`, codings compared without
    /// regard to case. A member with a malformed weight or another parameter is ignored; a
    /// coding named twice keeps its highest weight.
    pub(crate) fn add(&mut self, value: &[u8]) {
        self.present = true;
        for member in value.split(|&b| b == b',') {
            let mut parts = member.split(|&b| b == b';');
            let name = trim(parts.next().unwrap_or_default());
            if name.is_empty() {
                continue;
            }
            let mut weight = Some(1000);
            for param in parts {
                let param = trim(param);
                weight = match param.split_at_checked(2) {
                    Some((q, v)) if q.eq_ignore_ascii_case(b"q=") => qvalue(v),
                    _ => None,
                };
            }
            let Some(weight) = weight else {
                continue;
            };
            let slot = if name == b"*" {
                &mut self.star
            } else if name.eq_ignore_ascii_case(b"identity") {
                &mut self.identity
            } else if name.eq_ignore_ascii_case(b"br") {
                &mut self.codings[0]
            } else if name.eq_ignore_ascii_case(b"zstd") {
                &mut self.codings[1]
            } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
                &mut self.codings[2]
            } else {
                continue;
            };
            *slot = Some(slot.map_or(weight, |w| w.max(weight)));
        }
    }

    fn weight(&self, coding: Coding) -> Weight {
        let i = Coding::ALL.iter().position(|&c| c == coding).unwrap_or(0);
        self.codings[i].or(self.star).unwrap_or(0)
    }

    /// Which of the `available` codings to send, `None` for the file as it is. The highest
    /// weight wins; ties go to the order of [`Coding::ALL`] (br, zstd, gzip), and a coding
    /// over the file as it is. Without the field, or with none of the available codings
    /// acceptable, the file as it is: it is also sent when `identity;q=0` or `*;q=0` refuses
    /// it and nothing else is acceptable (a default representation, as RFC 9110 15.5.7
    /// allows, rather than 406). An unnamed identity is acceptable, but only when no
    /// coding is.
    pub(crate) fn choose(&self, available: impl Iterator<Item = Coding>) -> Option<Coding> {
        if !self.present {
            return None;
        }
        let mut best: Option<(Coding, Weight)> = None;
        for c in available {
            let w = self.weight(c);
            if w > 0 && best.is_none_or(|(_, b)| w > b) {
                best = Some((c, w));
            }
        }
        let (coding, w) = best?;
        match self.identity.or(self.star) {
            Some(identity) if identity > w => None,
            _ => Some(coding),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    fn choose(value: &str, available: &[Coding]) -> Option<Coding> {
        let mut a = AcceptEncoding::default();
        for line in value.split('\n') {
            a.add(line.as_bytes());
        }
        a.choose(available.iter().copied())
    }

    #[test]
    fn weights_choose_the_representation() {
        let all = [Br, Zstd, Gzip];
        // Absent: the file as it is.
        assert_eq!(AcceptEncoding::default().choose(all.into_iter()), None);
        assert_eq!(choose("", &all), None);
        assert_eq!(choose("gzip, deflate, br, zstd", &all), Some(Br));
        assert_eq!(choose("gzip, deflate, br, zstd", &[Zstd, Gzip]), Some(Zstd));
        assert_eq!(choose("gzip", &all), Some(Gzip));
        assert_eq!(choose("GZip", &all), Some(Gzip));
        assert_eq!(choose("x-gzip", &all), Some(Gzip));
        assert_eq!(choose("br;q=0.5, gzip;q=0.8", &all), Some(Gzip));
        assert_eq!(choose("br;q=0.8, gzip;q=0.8", &all), Some(Br));
        assert_eq!(choose("br;q=0, gzip", &all), Some(Gzip));
        assert_eq!(choose("br;q=0, gzip;q=0", &all), None);
        assert_eq!(choose("br; Q=0.001", &[Br]), Some(Br));
        assert_eq!(choose("*", &all), Some(Br));
        assert_eq!(choose("*;q=0.5, br;q=0.1", &all), Some(Zstd));
        assert_eq!(choose("*;q=0", &all), None);
        assert_eq!(choose("deflate", &all), None);
        assert_eq!(choose("gzip", &[Br]), None);
        // Identity named: it wins only with a higher weight.
        assert_eq!(choose("gzip;q=0.5, identity", &all), None);
        assert_eq!(choose("gzip, identity", &all), Some(Gzip));
        assert_eq!(choose("gzip;q=0.5, identity;q=0.5", &all), Some(Gzip));
        assert_eq!(choose("gzip;q=0.5, *;q=0.9", &[Gzip]), None);
        assert_eq!(choose("gzip;q=0.1", &all), Some(Gzip));
        // Malformed weights drop their member.
        assert_eq!(choose("br;q=2, gzip", &all), Some(Gzip));
        assert_eq!(choose("br;q=1.5, gzip;q=0.0001", &all), None);
        assert_eq!(choose("br;q=, gzip;level=1", &all), None);
        assert_eq!(choose("br;q=1.000", &all), Some(Br));
        // Several lines are one list.
        assert_eq!(choose("br;q=0.2\ngzip;q=0.3", &all), Some(Gzip));
        assert_eq!(choose(" , ,gzip ,", &all), Some(Gzip));
    }
}
