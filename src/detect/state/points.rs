//! Geo points as held in memory and as checkpointed.

use super::{GeoPoint, Items, fp};

/// A geo point as held: its three texts in one allocation, its event as a fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HeldPoint {
    pub(super) at_ms: i64,
    pub(super) uuid: u64,
    lat: f64,
    lon: f64,
    /// country, city and ip, one after the other; `lens` are the first two's lengths.
    texts: Box<str>,
    lens: [u16; 2],
}

impl HeldPoint {
    pub(super) fn new(point: &GeoPoint, uuid: u64) -> HeldPoint {
        let texts = [&point.country, &point.city, &point.ip].map(String::as_str);
        HeldPoint::from_parts(point.at_ms, uuid, (point.lat, point.lon), texts)
    }

    fn from_parts(at_ms: i64, uuid: u64, (lat, lon): (f64, f64), texts: [&str; 3]) -> HeldPoint {
        let [country, city, ip] = texts.map(clip_u16);
        HeldPoint {
            at_ms,
            uuid,
            lat,
            lon,
            texts: [country, city, ip].concat().into_boxed_str(),
            lens: [country.len() as u16, city.len() as u16],
        }
    }

    /// Country, city and ip.
    fn texts(&self) -> [&str; 3] {
        let (country, rest) = self.texts.split_at(usize::from(self.lens[0]));
        let (city, ip) = rest.split_at(usize::from(self.lens[1]));
        [country, city, ip]
    }

    pub(super) fn point(&self) -> GeoPoint {
        let [country, city, ip] = self.texts().map(str::to_owned);
        GeoPoint {
            at_ms: self.at_ms,
            lat: self.lat,
            lon: self.lon,
            country,
            city,
            ip,
        }
    }

    /// at, uuid, lat, lon, then each text's length (u16) and bytes.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.at_ms.to_le_bytes());
        out.extend(self.uuid.to_le_bytes());
        out.extend(self.lat.to_le_bytes());
        out.extend(self.lon.to_le_bytes());
        for text in self.texts() {
            out.extend((text.len() as u16).to_le_bytes());
            out.extend(text.as_bytes());
        }
    }

    fn decode(bytes: &mut &[u8]) -> Option<HeldPoint> {
        let at_ms = i64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
        let uuid = u64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
        let lat = f64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
        let lon = f64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
        let mut texts = [""; 3];
        for text in &mut texts {
            let len = u16::from_le_bytes(take(bytes, 2)?.try_into().ok()?);
            *text = std::str::from_utf8(take(bytes, usize::from(len))?).ok()?;
        }
        Some(HeldPoint::from_parts(at_ms, uuid, (lat, lon), texts))
    }
}

/// The first `n` bytes, which the cursor then moves past.
fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = bytes.split_at_checked(n)?;
    *bytes = tail;
    Some(head)
}

/// Points as checkpointed before the binary form: JSON with the event's uuid in full.
#[derive(serde::Deserialize)]
struct JsonPoint {
    at_ms: i64,
    lat: f64,
    lon: f64,
    country: String,
    city: String,
    ip: String,
    event_uuid: String,
}

/// The first byte of a binary points entry (a JSON one starts with `[`).
const POINTS_V2: u8 = 2;

pub(super) fn encode_points(points: &[HeldPoint]) -> Vec<u8> {
    let mut out = vec![POINTS_V2];
    for point in points {
        point.encode(&mut out);
    }
    out
}

pub(super) fn decode_points(bytes: &[u8]) -> Option<Items<HeldPoint>> {
    match bytes.split_first()? {
        (&POINTS_V2, mut rest) => {
            let mut points = Items::new();
            while !rest.is_empty() {
                points.push(HeldPoint::decode(&mut rest)?);
            }
            Some(points)
        }
        _ => {
            let legacy: Vec<JsonPoint> = serde_json::from_slice(bytes).ok()?;
            Some(
                legacy
                    .into_iter()
                    .map(|p| {
                        let texts = [&p.country, &p.city, &p.ip].map(String::as_str);
                        HeldPoint::from_parts(p.at_ms, fp(&p.event_uuid), (p.lat, p.lon), texts)
                    })
                    .collect(),
            )
        }
    }
}

/// At most `u16::MAX` bytes, cut at a character boundary (place names and addresses are short).
fn clip_u16(text: &str) -> &str {
    &text[..text.floor_char_boundary(usize::from(u16::MAX))]
}
