//! Authentication and authorisation.
//!
//! Two kinds of bearer credential:
//! - API keys `rk_…` for integrations: 256 random bits, stored as SHA-256, scoped, revocable.
//!   Verified keys are cached per process for a few seconds ([`KEY_CACHE_TTL`] by default), so a request
//!   costs no database round trip, and a revoked key stops working everywhere within that time.
//! - JWT access tokens (HS256) for staff, from `POST /api/v1/auth/token`; stateless, short-lived,
//!   checked for signature, algorithm, `exp`, `nbf`, `iss` and `aud`.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use rapport_domain::auth::{Role, Scope, Scopes};
use rapport_store::Db;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ApiError, Code};

pub const API_KEY_PREFIX: &str = "rk_";
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    pub scopes: Scopes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    ApiKey(Uuid),
    User(Uuid),
}

impl Subject {
    /// How the subject is named in audit fields (`api_key:<id>`, `user:<id>`).
    pub fn label(&self) -> String {
        match self {
            Subject::ApiKey(id) => format!("api_key:{id}"),
            Subject::User(id) => format!("user:{id}"),
        }
    }
}

impl Principal {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::Forbidden,
                format!("this credential lacks the `{scope}` scope"),
            ))
        }
    }
}

/// A freshly made API key: the secret (shown once) and what is stored.
pub struct NewKeySecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate_api_key() -> NewKeySecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = secret.chars().take(11).collect();
    let hash = hash_secret(&secret);
    NewKeySecret {
        secret,
        prefix,
        hash,
    }
}

/// SHA-256, hex. For high-entropy secrets only (API keys, refresh tokens), never passwords.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random opaque token (refresh tokens).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// A real argon2 hash of a random password: verifying against it for unknown e-mails costs
/// the same time as for known ones, so timing does not reveal which e-mails exist.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// JWT settings shared by every process of one deployment.
#[derive(Clone)]
pub struct JwtConfig {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl JwtConfig {
    pub fn new(
        secret: &[u8],
        issuer: &str,
        audience: &str,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl,
            refresh_ttl,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub role: String,
    pub scope: String,
}

pub fn issue_access_token(jwt: &JwtConfig, user_id: Uuid, role: Role) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user_id.to_string(),
        iss: jwt.issuer.clone(),
        aud: jwt.audience.clone(),
        exp: now + jwt.access_ttl.as_secs() as i64,
        nbf: now,
        iat: now,
        jti: Uuid::now_v7().to_string(),
        role: role.as_str().to_owned(),
        scope: role.scopes().to_list(),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &jwt.encoding,
    )?)
}

fn verify_access_token(jwt: &JwtConfig, token: &str) -> Result<Principal, ApiError> {
    let unauthorized =
        || ApiError::new(Code::Unauthorized, "the access token is invalid or expired");
    // Only HS256 is accepted: `alg: none` and algorithm swaps fail here.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&jwt.issuer]);
    validation.set_audience(&[&jwt.audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<Claims>(token, &jwt.decoding, &validation)
        .map_err(|_| unauthorized())?;
    let user = Uuid::parse_str(&data.claims.sub).map_err(|_| unauthorized())?;
    let scopes = Scopes::parse_list(&data.claims.scope).map_err(|_| unauthorized())?;
    Ok(Principal {
        subject: Subject::User(user),
        scopes,
    })
}

#[derive(Clone)]
struct CachedKey {
    principal: Principal,
    checked_at: Instant,
}

/// Per-process cache of verified API keys, by secret hash.
#[derive(Clone, Default)]
pub struct KeyCache {
    inner: Arc<RwLock<HashMap<String, CachedKey>>>,
    ttl: Duration,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Arc::default(),
            ttl,
        }
    }

    fn get(&self, hash: &str) -> Option<Principal> {
        let map = self.inner.read().ok()?;
        let entry = map.get(hash)?;
        (entry.checked_at.elapsed() < self.ttl).then(|| entry.principal.clone())
    }

    fn put(&self, hash: String, principal: Principal) {
        if let Ok(mut map) = self.inner.write() {
            if map.len() > 100_000 {
                map.clear();
            }
            map.insert(
                hash,
                CachedKey {
                    principal,
                    checked_at: Instant::now(),
                },
            );
        }
    }

    /// Drops a key at once in this process (after revoking it here).
    pub fn evict_key(&self, id: Uuid) {
        if let Ok(mut map) = self.inner.write() {
            map.retain(|_, v| v.principal.subject != Subject::ApiKey(id));
        }
    }
}

async fn verify_api_key(db: &Db, cache: &KeyCache, secret: &str) -> Result<Principal, ApiError> {
    let hash = hash_secret(secret);
    if let Some(p) = cache.get(&hash) {
        return Ok(p);
    }
    let db = db.clone();
    let lookup_hash = hash.clone();
    let found = web::block(move || {
        let key = rapport_store::api_keys::find_by_hash(&mut *db.conn()?, &lookup_hash)?;
        if let Some(k) = &key {
            if k.revoked_at.is_none() {
                // Last use is recorded once per cache period, not on every request.
                let id = k.id;
                db.write(move |conn| {
                    rapport_store::api_keys::touch(conn, id, rapport_domain::now())
                })?;
            }
        }
        Ok::<_, rapport_store::StoreError>(key)
    })
    .await??;
    let now = chrono::Utc::now();
    match found {
        Some(k) if k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now) => {
            let principal = Principal {
                subject: Subject::ApiKey(k.id),
                scopes: Scopes::new(k.scopes),
            };
            cache.put(hash, principal.clone());
            Ok(principal)
        }
        _ => Err(ApiError::new(
            Code::Unauthorized,
            "the API key is invalid, expired or revoked",
        )),
    }
}

/// Authenticates the `Authorization` header.
pub async fn authenticate(
    req: &HttpRequest,
    state: &crate::AppState,
) -> Result<Principal, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::new(
                Code::Unauthorized,
                "send `Authorization: Bearer <token or API key>`",
            )
        })?;
    let value = header.to_str().map_err(|_| {
        ApiError::new(
            Code::Unauthorized,
            "the Authorization header is not valid text",
        )
    })?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                Code::Unauthorized,
                "the Authorization scheme must be Bearer",
            )
        })?;
    if token.starts_with(API_KEY_PREFIX) {
        verify_api_key(&state.db, &state.key_cache, token).await
    } else {
        verify_access_token(&state.jwt, token)
    }
}

/// Marker types naming the scope a handler needs: `Auth<scope::CustomersWrite>`.
pub mod scope {
    use rapport_domain::auth::Scope;

    pub trait Required {
        const SCOPE: Scope;
    }

    macro_rules! markers {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl Required for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }
    markers!(
        Admin,
        CustomersRead,
        CustomersWrite,
        InteractionsRead,
        InteractionsWrite,
        LoyaltyRead,
        LoyaltyWrite,
        TicketsRead,
        TicketsWrite,
        TicketsPortal
    );
}

/// The authenticated caller, already checked for scope `S`. Put it first in a handler's
/// arguments: extraction runs in order, so 401/403 win over body errors.
pub struct Auth<S: scope::Required> {
    pub principal: Principal,
    _scope: PhantomData<S>,
}

impl<S: scope::Required> FromRequest for Auth<S> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.extensions().get::<Principal>() {
            Some(p) => p.require(S::SCOPE).map(|_| Auth {
                principal: p.clone(),
                _scope: PhantomData,
            }),
            None => Err(ApiError::new(Code::Unauthorized, "authentication required")),
        };
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt() -> JwtConfig {
        JwtConfig::new(
            b"0123456789abcdef0123456789abcdef",
            "rapport",
            "rapport-api",
            Duration::from_secs(60),
            Duration::from_secs(600),
        )
    }

    #[test]
    fn access_tokens_round_trip() {
        let id = Uuid::now_v7();
        let token = issue_access_token(&jwt(), id, Role::Viewer).unwrap();
        let p = verify_access_token(&jwt(), &token).unwrap();
        assert_eq!(p.subject, Subject::User(id));
        assert!(p.scopes.allows(Scope::CustomersRead));
        assert!(!p.scopes.allows(Scope::CustomersWrite));
    }

    #[test]
    fn unsigned_and_foreign_tokens_are_refused() {
        let id = Uuid::now_v7();
        let token = issue_access_token(&jwt(), id, Role::Admin).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        // alg: none
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        assert!(verify_access_token(&jwt(), &format!("{}.{}.", parts[0], parts[1])).is_err());
        // signed with another secret
        let other = JwtConfig::new(
            b"another secret another secret!!!",
            "rapport",
            "rapport-api",
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        let forged = issue_access_token(&other, id, Role::Admin).unwrap();
        assert!(verify_access_token(&jwt(), &forged).is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn api_keys_are_prefixed_and_hashed() {
        let k = generate_api_key();
        assert!(k.secret.starts_with("rk_") && k.secret.len() > 40);
        assert_eq!(k.hash, hash_secret(&k.secret));
        assert!(k.secret.starts_with(&k.prefix));
    }
}
