//! Validates JSON request bodies against the requestBody schemas of Discord's OpenAPI 3.1
//! description, with the `jsonschema` crate (OpenAPI 3.1 schemas are JSON Schema 2020-12).
//!
//! This module owns finding the spec file, matching a request path to the spec's path
//! templates, the known deviations of serenity 0.12.5 from the preview spec, and turning
//! validation errors into one readable line each.
//!
//! The 1.2 MB document is parsed and registered once per process and path (every fake in a test
//! binary shares it), as one resource, so the `#/components/...` references inside every schema
//! resolve against the whole document. A route's validator is compiled when the first body for
//! that route arrives and is reused afterwards.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};

use anyhow::Context as _;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde_json::{json, Value};

const ENV_VAR: &str = "ATTUNE_DISCORD_OPENAPI";
/// Where the spec lives, relative to the workspace root (it is shared, never vendored).
const RELATIVE: &str = "../shared/discord/openapi.json";
/// The name the whole document is registered under; only ever resolved locally.
const BASE_URI: &str = "urn:fake-discord:openapi";

pub(super) fn default_spec_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_VAR).filter(|p| !p.is_empty()) {
        // An override is final: pointing it at nothing is how to run without the spec.
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
        tracing::warn!(target: "fake_discord", "{ENV_VAR}={} is not a file", p.display());
        return None;
    }
    // The current directory comes last: it only helps a binary run away from its build tree.
    [
        workspace_root().join(RELATIVE),
        PathBuf::from(".").join(RELATIVE),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// The root of the Cargo workspace this crate was built in: the nearest ancestor of the crate's
/// manifest directory whose `Cargo.toml` declares `[workspace]`, or the crate itself when it is
/// built alone.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|toml| toml.lines().any(|l| l.trim() == "[workspace]"))
        })
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

pub(super) fn warn_missing_once() {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            target: "fake_discord",
            "Discord's openapi.json not found (set {ENV_VAR}); only the hand-written limit checks run"
        );
    });
}

pub(super) fn load(path: &Path) -> anyhow::Result<Arc<Spec>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Spec>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(spec) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(spec.clone());
    }
    let text = std::fs::read(path)
        .with_context(|| format!("reading Discord's OpenAPI description {}", path.display()))?;
    let root: Value =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
    let spec = Arc::new(Spec::new(root).with_context(|| format!("indexing {}", path.display()))?);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, spec.clone());
    Ok(spec)
}

enum Seg {
    Lit(String),
    Param,
}

/// One operation's application/json request body.
struct BodySchema {
    /// `$ref` to the schema inside the registered document.
    uri: String,
    /// `None` when the schema does not compile (logged once); the route is then not checked.
    validator: OnceLock<Option<Validator>>,
}

struct Route {
    template: String,
    segs: Vec<Seg>,
    /// Lower-case method → its body schema.
    bodies: HashMap<String, BodySchema>,
}

pub(super) struct Spec {
    registry: Registry<'static>,
    routes: Vec<Route>,
}

impl Spec {
    fn new(root: Value) -> anyhow::Result<Spec> {
        let mut routes = Vec::new();
        if let Some(paths) = root.get("paths").and_then(Value::as_object) {
            for (template, item) in paths {
                let segs = template
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Seg::Param
                        } else {
                            Seg::Lit(s.to_string())
                        }
                    })
                    .collect();
                let mut bodies = HashMap::new();
                for (method, op) in item.as_object().into_iter().flatten() {
                    if op
                        .pointer("/requestBody/content/application~1json/schema")
                        .is_some()
                    {
                        let pointer = format!(
                            "/paths/{}/{method}/requestBody/content/application~1json/schema",
                            pointer_token(template)
                        );
                        bodies.insert(
                            method.to_ascii_lowercase(),
                            BodySchema {
                                uri: format!("{BASE_URI}#{}", fragment(&pointer)),
                                validator: OnceLock::new(),
                            },
                        );
                    }
                }
                routes.push(Route {
                    template: template.clone(),
                    segs,
                    bodies,
                });
            }
        }
        // The document is no schema itself, so its dialect cannot be detected: OpenAPI 3.1
        // fixes it at 2020-12.
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(BASE_URI, root)
            .context("registering the document")?
            .prepare()
            .context("registering the document")?;
        Ok(Spec { registry, routes })
    }

    /// The best-matching path template: literal segments beat parameters
    /// (`/messages/@original` over `/messages/{message_id}`).
    fn find_route(&self, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|r| r.segs.len() == parts.len())
            .filter_map(|r| {
                let mut literal = 0;
                for (seg, part) in r.segs.iter().zip(&parts) {
                    match seg {
                        Seg::Lit(l) if l == part => literal += 1,
                        Seg::Lit(_) => return None,
                        Seg::Param => {}
                    }
                }
                Some((literal, r))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, r)| r)
    }

    fn validator<'a>(&self, route: &Route, body: &'a BodySchema) -> Option<&'a Validator> {
        body.validator
            .get_or_init(|| {
                let built = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .with_registry(&self.registry)
                    .build(&json!({"$ref": body.uri}));
                match built {
                    Ok(v) => Some(v),
                    Err(e) => {
                        // A broken spec is not the bot's fault, so it is no violation.
                        tracing::warn!(
                            target: "fake_discord",
                            "openapi: the body schema of {} does not compile: {e}",
                            route.template
                        );
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Problems with `body` for `method path` (path without `/api/v10`); empty when valid or
    /// when the spec has no JSON body schema for the route.
    pub fn validate_request(&self, method: &str, path: &str, body: &Value) -> Vec<String> {
        let Some(route) = self.find_route(path) else {
            return Vec::new();
        };
        let Some(schema) = route.bodies.get(&method.to_ascii_lowercase()) else {
            return Vec::new();
        };
        let Some(validator) = self.validator(route, schema) else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for error in validator.iter_errors(body) {
            if !excused(&error) {
                describe(&error, &mut problems);
            }
        }
        problems
            .into_iter()
            .map(|p| format!("{} {}: {p}", method.to_ascii_uppercase(), route.template))
            .collect()
    }
}

/// A JSON Pointer reference token (RFC 6901).
fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A JSON Pointer as a URI fragment: the path templates' braces are not allowed there raw.
fn fragment(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}

/// Narrow, documented deviations where a genuine serenity 0.12.5 body disagrees with the preview
/// spec but is accepted by Discord. Each is keyed on the instance path of the reported error
/// and on the value found there, so the same mistake anywhere else is still reported.
fn known_deviation(e: &ValidationError<'_>) -> bool {
    let at: Vec<String> = e.instance_path().iter().map(|s| s.to_string()).collect();
    let at: Vec<&str> = at.iter().map(String::as_str).collect();
    let index = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let value = e.instance();
    // serenity's CreateAttachment serializes the placeholder id that links `attachments[n]` to
    // the multipart part `files[n]` as a JSON number (`"id": 0`); the spec types every
    // attachment id as a snowflake *string*. Discord accepts both, as it does everywhere a
    // snowflake is expected.
    let attachment_id = matches!(
        at.as_slice(),
        ["attachments", n, "id"] | ["data", "attachments", n, "id"] if index(n)
    );
    if attachment_id && value.is_u64() {
        return true;
    }
    // serenity's CreateCommand stores `default_member_permissions` as a String (Discord's docs
    // type it "?string", a permission bit set); the preview spec says integer. Only the
    // top-level property of a command body (single, or inside the PUT array) is concerned.
    let command_permissions = matches!(
        at.as_slice(),
        ["default_member_permissions"] | [_, "default_member_permissions"]
            if at.len() == 1 || index(at[0])
    );
    command_permissions && value.as_str().is_some_and(index)
}

/// Whether an error is only a known deviation: directly, or, for a union, because one of its
/// alternatives fails on known deviations alone (that is the alternative the body meant).
fn excused(e: &ValidationError<'_>) -> bool {
    match e.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            context
                .iter()
                .any(|branch| branch.iter().all(|e| excused(e)))
        }
        _ => known_deviation(e),
    }
}

/// One line per problem. A failed union is described through the alternative the body most
/// likely meant, because "matches none of 7 alternatives" alone does not say what to fix.
fn describe(e: &ValidationError<'_>, out: &mut Vec<String>) {
    if let ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } =
        e.kind()
    {
        let union_at = e.instance_path().as_str();
        let closest = context
            .iter()
            .map(|branch| {
                let left: Vec<&ValidationError<'_>> =
                    branch.iter().filter(|e| !excused(e)).collect();
                (wrong_kind(&left, union_at), left)
            })
            .min_by_key(|(wrong, left)| (*wrong, left.len()));
        if let Some((false, left)) = closest {
            for e in left {
                describe(e, out);
            }
            return;
        }
    }
    let at = match e.instance_path().as_str() {
        "" => "(body)",
        p => p,
    };
    let placeholder = short(e.instance());
    let mut line = format!("{at}: {}", e.masked_with(placeholder));
    if let Some(name) = schema_name(e.schema_path().as_str()) {
        line.push_str(&format!(" ({name})"));
    }
    out.push(line);
}

/// Whether an alternative's errors say the value is another kind of thing altogether: the
/// wrong JSON type, or a `type` discriminator (every component and option union has one)
/// outside the alternative's `enum`.
fn wrong_kind(errors: &[&ValidationError<'_>], union_at: &str) -> bool {
    let discriminator = format!("{union_at}/type");
    errors.iter().any(|e| {
        let at = e.instance_path().as_str();
        match e.kind() {
            ValidationErrorKind::Type { .. } => at == union_at,
            ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
                at == discriminator
            }
            _ => false,
        }
    })
}

/// The component schema a keyword belongs to, e.g. `ButtonComponentForMessageRequest`.
fn schema_name(schema_path: &str) -> Option<&str> {
    let (_, rest) = schema_path.rsplit_once("/components/schemas/")?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Option<Arc<Spec>> {
        default_spec_path().map(|p| load(&p).expect("spec loads"))
    }

    #[test]
    fn the_workspace_root_is_found() {
        let root = workspace_root();
        assert!(
            root.join("crates/fake-discord/Cargo.toml").is_file(),
            "{}",
            root.display()
        );
    }

    #[test]
    fn serenity_bodies_pass_and_bad_ones_fail() {
        let Some(spec) = spec() else {
            eprintln!("openapi.json not found; skipping");
            return;
        };
        let ok = json!({"content":"fakebot is online","attachments":[],"embeds":[],
            "enforce_nonce":false,"sticker_ids":[],"tts":false,
            "allowed_mentions":{"parse":["users"]}});
        assert_eq!(
            spec.validate_request("POST", "/channels/1/messages", &ok),
            Vec::<String>::new()
        );
        let bad = json!({"content": 5, "nonce": "x".repeat(30)});
        let errs = spec.validate_request("POST", "/channels/1/messages", &bad);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("/content: 5 is not of types"), "{errs:?}");
        assert!(errs[1].contains("longer than 25 characters"), "{errs:?}");
        let cb = json!({"type":4,"data":{"content":"count=5","components":[{"type":1,"components":[
            {"type":2,"style":1,"custom_id":"btn:inc","label":"+1","disabled":false}]}],"attachments":[]}});
        assert!(spec
            .validate_request("POST", "/interactions/1/tok/callback", &cb)
            .is_empty());
        let bad_cb = json!({"type":4,"data":{"components":[{"type":1,"components":[
            {"type":2,"style":1,"custom_id":"x".repeat(101),"label":"+1"}]}]}});
        let errs = spec.validate_request("POST", "/interactions/1/tok/callback", &bad_cb);
        // The union of callbacks is reported through the alternative the body meant.
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("/data/components/0/components/0/custom_id")
                && errs[0].contains("longer than 100 characters")
                && errs[0].contains("(ButtonComponentForMessageRequest)"),
            "{errs:?}"
        );
        let odd = json!({"type":4,"data":{"components":[{"type":99}]}});
        let errs = spec.validate_request("POST", "/interactions/1/tok/callback", &odd);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("/data/components/0: "), "{errs:?}");
        // Literal segments beat parameters.
        let original = json!({"content": 7});
        let errs = spec.validate_request("PATCH", "/webhooks/1/tok/messages/@original", &original);
        assert!(
            errs[0].starts_with("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"),
            "{errs:?}"
        );
    }

    #[test]
    fn deviations_are_narrow() {
        let Some(spec) = spec() else {
            return;
        };
        let put = |v: Value| spec.validate_request("PUT", "/applications/1/commands", &v);
        let cmd =
            |perm: Value| json!([{"name":"x","description":"d","default_member_permissions":perm}]);
        assert!(put(cmd(json!("32"))).is_empty());
        assert!(put(cmd(json!(32))).is_empty());
        assert_eq!(put(cmd(json!("MANAGE_GUILD"))).len(), 1);
        let post_cmd = |v: Value| spec.validate_request("POST", "/applications/1/commands", &v);
        assert!(post_cmd(json!({"name":"x","default_member_permissions":"8"})).is_empty());
        let post = |v: Value| spec.validate_request("POST", "/channels/1/messages", &v);
        assert!(post(json!({"attachments":[{"id":0}]})).is_empty());
        assert!(post(json!({"attachments":[{"id":"0"}]})).is_empty());
        assert_eq!(post(json!({"attachments":[{"id":-1}]})).len(), 1);
        assert_eq!(
            post(json!({"sticker_ids":[5]})).len(),
            1,
            "other snowflakes stay strict"
        );
        // Inside the callback union the deviation still applies, and only there.
        let cb = |v: Value| spec.validate_request("POST", "/interactions/1/tok/callback", &v);
        assert!(cb(json!({"type":4,"data":{"content":"x","attachments":[{"id":0}]}})).is_empty());
        assert_eq!(
            cb(json!({"type":4,"data":{"content":"x","attachments":[{"id":-1}]}})).len(),
            1
        );
    }

    #[test]
    fn check_cost() {
        let Some(p) = default_spec_path() else {
            return;
        };
        let t = std::time::Instant::now();
        let text = std::fs::read(&p).unwrap();
        let spec = Spec::new(serde_json::from_slice(&text).unwrap()).unwrap();
        let load = t.elapsed();
        let body = json!({"type":4,"data":{"content":"hello","embeds":[{"title":"t","description":"d",
            "fields":[{"name":"a","value":"b","inline":false}],"footer":{"text":"f"}}],
            "components":[{"type":1,"components":[
                {"type":2,"style":1,"custom_id":"a","label":"A","disabled":false},
                {"type":2,"style":2,"custom_id":"b","label":"B","disabled":false}]},
              {"type":1,"components":[{"type":3,"custom_id":"s","options":[
                {"label":"x","value":"x","default":false},{"label":"y","value":"y","default":false}]}]}],
            "allowed_mentions":{"parse":["users"]},"flags":64,"attachments":[]}});
        let t = std::time::Instant::now();
        assert!(spec
            .validate_request("POST", "/interactions/1/tok/callback", &body)
            .is_empty());
        let compile = t.elapsed();
        let n = 200;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(spec
                .validate_request("POST", "/interactions/1/tok/callback", &body)
                .is_empty());
        }
        eprintln!(
            "openapi: parse+register {load:?}; first callback body (compiles the validator) \
             {compile:?}; then one with 2 rows + embed: {:?}",
            t.elapsed() / n
        );
    }
}
