use super::*;

use roster_application::auth::DUMMY_HASH;
use serde_json::json;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---- credentials ----------------------------------------------------------

#[test]
fn hash_then_verify_roundtrips() {
    let creds = Argon2Credentials::new();
    let secret = creds.new_secret();
    let hash = creds.hash(&secret);
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(creds.verify_now(&secret, &hash));
}

#[test]
fn the_same_secret_hashes_differently_each_time() {
    let creds = Argon2Credentials::new();
    let (a, b) = (creds.hash("s3cret"), creds.hash("s3cret"));
    assert_ne!(a, b, "a fresh salt every time");
    assert!(creds.verify_now("s3cret", &a) && creds.verify_now("s3cret", &b));
}

#[test]
fn a_wrong_secret_does_not_verify() {
    let creds = Argon2Credentials::new();
    let hash = creds.hash("right");
    assert!(!creds.verify_now("wrong", &hash));
    assert!(!creds.verify_now("", &hash));
    assert!(!creds.verify_now("right ", &hash));
}

#[test]
fn a_malformed_hash_matches_nothing() {
    let creds = Argon2Credentials::new();
    let good = creds.hash("secret");
    let truncated = &good[..good.len() - 10];
    let huge_memory = good.replace("m=19456", "m=4294967295");
    let huge_time = good.replace("t=2", "t=4000000000");
    let other_scheme = "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    for bad in [
        "",
        "secret",
        "$",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!",
        "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        truncated,
        &huge_memory,
        &huge_time,
        other_scheme,
    ] {
        assert!(!creds.verify_now("secret", bad), "{bad:?}");
    }
}

#[test]
fn new_secrets_are_distinct_and_printable() {
    let creds = Argon2Credentials::new();
    let secrets: Vec<String> = (0..32).map(|_| creds.new_secret()).collect();
    for s in &secrets {
        assert_eq!(s.len(), 43, "32 bytes in unpadded base64: {s}");
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s}");
    }
    let mut unique = secrets.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), secrets.len());
}

#[test]
fn the_dummy_hash_is_a_real_hash_with_the_same_params() {
    let dummy = PasswordHash::new(DUMMY_HASH).expect("DUMMY_HASH parses as a PHC string");
    let creds = Argon2Credentials::new();
    let real_text = creds.hash("anything");
    let real = PasswordHash::new(&real_text).unwrap();
    assert_eq!(dummy.algorithm, real.algorithm);
    assert_eq!(dummy.version, real.version);
    assert_eq!(Params::try_from(&dummy).unwrap(), Params::try_from(&real).unwrap());
    assert_eq!(dummy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
    assert!(parse_bounded(DUMMY_HASH).is_some(), "verify really computes it");
    assert!(!creds.verify_now("", DUMMY_HASH));
}

// ---- tokens ---------------------------------------------------------------

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_800_000_000;

fn codec() -> JwtCodec {
    JwtCodec::new(KEY).unwrap()
}

fn claims() -> Claims {
    Claims { client_id: "c-1".into(), namespace: "acme".into(), issued_at: NOW, expires_at: NOW + 900 }
}

fn payload() -> serde_json::Value {
    json!({"iss": "roster", "sub": "c-1", "ns": "acme", "iat": NOW, "exp": NOW + 900})
}

/// A token with the given header and payload, HMAC-signed with `key` by
/// the algorithm `sign_with` (whatever the header says).
fn hand_signed(header: &serde_json::Value, payload: &serde_json::Value, sign_with: Algorithm, key: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    let key = EncodingKey::from_secret(key).unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, sign_with).unwrap();
    format!("{message}.{signature}")
}

fn hs256(payload: &serde_json::Value) -> String {
    hand_signed(&json!({"alg": "HS256", "typ": "JWT"}), payload, Algorithm::HS256, KEY)
}

#[test]
fn a_token_roundtrips() {
    let token = codec().encode(&claims());
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(codec().decode(&token, NOW), Ok(claims()));
    assert_eq!(codec().decode(&token, NOW + 899), Ok(claims()));
}

#[test]
fn the_payload_is_as_documented() {
    let token = codec().encode(&claims());
    let mut parts = token.split('.');
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(body, payload());
}

#[test]
fn a_hand_built_hs256_token_is_accepted() {
    // The test helper really builds what the codec accepts, so the refusals
    // below are about the one thing each changes.
    assert_eq!(codec().decode(&hs256(&payload()), NOW), Ok(claims()));
}

#[test]
fn an_expired_token_is_refused_against_the_given_clock() {
    let token = codec().encode(&claims());
    assert_eq!(codec().decode(&token, NOW + 900), Err(TokenError::Expired), "exp == now");
    assert_eq!(codec().decode(&token, NOW + 10_000), Err(TokenError::Expired));
    // Long past by the system's clock, fine by the caller's.
    let old = Claims { issued_at: 1_000, expires_at: 2_000, ..claims() };
    assert_eq!(codec().decode(&codec().encode(&old), 1_500), Ok(old));
}

#[test]
fn a_token_signed_with_another_key_is_invalid() {
    let other = JwtCodec::new(b"another key, also 32 bytes long!").unwrap();
    let token = other.encode(&claims());
    assert_eq!(codec().decode(&token, NOW), Err(TokenError::Invalid));
}

#[test]
fn an_alg_none_token_is_invalid() {
    let body = b64(payload().to_string().as_bytes());
    for header in [json!({"alg": "none", "typ": "JWT"}), json!({"alg": "None"}), json!({"alg": "NONE"})] {
        let head = b64(header.to_string().as_bytes());
        assert_eq!(codec().decode(&format!("{head}.{body}."), NOW), Err(TokenError::Invalid), "{header}");
        assert_eq!(codec().decode(&format!("{head}.{body}"), NOW), Err(TokenError::Invalid), "{header}");
    }
}

#[test]
fn a_token_of_another_algorithm_is_invalid() {
    // Properly HS512-signed with the same key.
    let hs512 = hand_signed(&json!({"alg": "HS512", "typ": "JWT"}), &payload(), Algorithm::HS512, KEY);
    assert_eq!(codec().decode(&hs512, NOW), Err(TokenError::Invalid));
    let encoded =
        jsonwebtoken::encode(&Header::new(Algorithm::HS512), &payload(), &EncodingKey::from_secret(KEY).unwrap())
            .unwrap();
    assert_eq!(codec().decode(&encoded, NOW), Err(TokenError::Invalid));
    // The key-confusion attack: RS256 header, HMAC signature with the key.
    let rs256 = hand_signed(&json!({"alg": "RS256", "typ": "JWT"}), &payload(), Algorithm::HS256, KEY);
    assert_eq!(codec().decode(&rs256, NOW), Err(TokenError::Invalid));
    let hs384 = hand_signed(&json!({"alg": "HS384", "typ": "JWT"}), &payload(), Algorithm::HS384, KEY);
    assert_eq!(codec().decode(&hs384, NOW), Err(TokenError::Invalid));
}

#[test]
fn a_tampered_token_is_invalid() {
    let token = codec().encode(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut other = payload();
    other["ns"] = json!("other");
    let forged = format!("{}.{}.{}", parts[0], b64(other.to_string().as_bytes()), parts[2]);
    assert_eq!(codec().decode(&forged, NOW), Err(TokenError::Invalid));
    // A flipped signature bit.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_eq!(codec().decode(&flipped, NOW), Err(TokenError::Invalid));
}

#[test]
fn garbage_is_invalid() {
    let token = codec().encode(&claims());
    for bad in [
        "",
        ".",
        "..",
        "a.b.c",
        "not a token",
        &token[..token.len() - 1],
        &format!("{token}.x"),
        &format!("{token}x"),
        &format!("!{token}"),
        &token.replace('.', ".."),
    ] {
        assert_eq!(codec().decode(bad, NOW), Err(TokenError::Invalid), "{bad:?}");
    }
    // Well signed, but not JSON / not an object.
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(b"not json"));
    let key = EncodingKey::from_secret(KEY).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    assert_eq!(codec().decode(&format!("{message}.{sig}"), NOW), Err(TokenError::Invalid));
    assert_eq!(codec().decode(&hs256(&json!([1, 2])), NOW), Err(TokenError::Invalid));
}

#[test]
fn a_wrong_or_missing_issuer_is_invalid() {
    for iss in [json!("evil"), json!(""), json!("Roster"), json!(["roster", "evil"]), json!(null), json!(1)] {
        let mut p = payload();
        p["iss"] = iss.clone();
        assert_eq!(codec().decode(&hs256(&p), NOW), Err(TokenError::Invalid), "{iss}");
    }
    let mut p = payload();
    p.as_object_mut().unwrap().remove("iss");
    assert_eq!(codec().decode(&hs256(&p), NOW), Err(TokenError::Invalid));
}

#[test]
fn a_missing_or_mistyped_claim_is_invalid() {
    for claim in ["exp", "iat", "sub", "ns"] {
        let mut p = payload();
        p.as_object_mut().unwrap().remove(claim);
        assert_eq!(codec().decode(&hs256(&p), NOW), Err(TokenError::Invalid), "without {claim}");
        let mut p = payload();
        p[claim] = json!(null);
        assert_eq!(codec().decode(&hs256(&p), NOW), Err(TokenError::Invalid), "{claim}: null");
    }
    for (claim, value) in [("exp", json!("never")), ("exp", json!(-1)), ("iat", json!("now")), ("sub", json!(7))] {
        let mut p = payload();
        p[claim] = value.clone();
        assert_eq!(codec().decode(&hs256(&p), NOW), Err(TokenError::Invalid), "{claim}: {value}");
    }
}

#[test]
fn a_token_with_an_audience_is_invalid() {
    let mut p = payload();
    p["aud"] = json!("someone");
    assert_eq!(codec().decode(&hs256(&p), NOW), Err(TokenError::Invalid));
}

#[test]
fn a_short_key_is_refused() {
    assert!(JwtCodec::new(b"").is_err());
    assert!(JwtCodec::new(&[7u8; MIN_KEY_LEN - 1]).is_err());
    assert!(JwtCodec::new(&[7u8; MIN_KEY_LEN]).is_ok());
}

#[test]
fn random_keys_are_long_enough_and_distinct() {
    let (a, b) = (random_key(), random_key());
    assert_eq!(a.len(), MIN_KEY_LEN);
    assert_ne!(a, b);
    let codec = JwtCodec::new(&a).unwrap();
    assert_eq!(codec.decode(&codec.encode(&claims()), NOW), Ok(claims()));
}

#[test]
fn debug_does_not_show_the_key() {
    let shown = format!("{:?}", codec());
    assert!(!shown.contains("0123456789"), "{shown}");
}
