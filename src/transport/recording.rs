//! A transport that only records what it was asked to deliver, for tests of the flows and
//! the scheduler that run without any chat platform. It keeps posts in memory, answers each
//! `key` once (a second post with the same key returns the first message, as Discord's
//! nonce and Matrix's transaction ids do), and can be told to fail.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Caps, Card, PostError, Transport};
use crate::domain::couple::Room;
use crate::domain::ids::{MessageRef, PersonRef, TransportKind};

/// One delivery as the recording transport saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub room: String,
    /// Only this person sees it (a private delivery).
    pub to: Option<PersonRef>,
    pub card: Card,
    pub key: String,
    pub message: MessageRef,
}

#[derive(Default)]
struct Inner {
    posts: Vec<Recorded>,
    by_key: HashMap<String, MessageRef>,
    fail_next: Vec<PostError>,
    names: HashMap<String, String>,
    next: u64,
}

/// See the module docs.
pub struct Recording {
    kind: TransportKind,
    caps: Caps,
    inner: Mutex<Inner>,
}

impl Recording {
    pub fn new(kind: TransportKind) -> Recording {
        Recording {
            kind,
            caps: Caps {
                controls: true,
                forms: true,
                ephemeral: true,
                edits: true,
                max_choices: 25,
            },
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("recording lock")
    }

    /// Everything delivered so far, in order.
    pub fn posts(&self) -> Vec<Recorded> {
        self.lock().posts.clone()
    }

    /// The next posts fail with these errors, in order.
    pub fn fail_next(&self, errors: Vec<PostError>) {
        self.lock().fail_next = errors;
    }

    /// The name `display_name` answers for a handle.
    pub fn set_name(&self, handle: &str, name: &str) {
        self.lock().names.insert(handle.into(), name.into());
    }

    fn deliver(
        &self,
        room: &Room,
        to: Option<&PersonRef>,
        card: &Card,
        key: &str,
    ) -> Result<MessageRef, PostError> {
        let mut g = self.lock();
        if !g.fail_next.is_empty() {
            return Err(g.fail_next.remove(0));
        }
        if let Some(m) = g.by_key.get(key) {
            return Ok(m.clone());
        }
        g.next += 1;
        let message = MessageRef(format!("rec-{}", g.next));
        g.by_key.insert(key.to_string(), message.clone());
        g.posts.push(Recorded {
            room: room.external.clone(),
            to: to.cloned(),
            card: card.clone(),
            key: key.to_string(),
            message: message.clone(),
        });
        Ok(message)
    }
}

#[async_trait]
impl Transport for Recording {
    fn kind(&self) -> TransportKind {
        self.kind
    }

    fn caps(&self) -> Caps {
        self.caps
    }

    async fn post(&self, room: &Room, card: &Card, key: &str) -> Result<MessageRef, PostError> {
        self.deliver(room, None, card, key)
    }

    async fn post_private(
        &self,
        room: &Room,
        to: &PersonRef,
        card: &Card,
        key: &str,
    ) -> Result<MessageRef, PostError> {
        self.deliver(room, Some(to), card, key)
    }

    async fn replace(
        &self,
        _room: &Room,
        message: &MessageRef,
        card: &Card,
    ) -> Result<(), PostError> {
        let mut g = self.lock();
        match g.posts.iter_mut().find(|p| &p.message == message) {
            Some(p) => {
                p.card = card.clone();
                Ok(())
            }
            None => Err(PostError::Gone { status: 404 }),
        }
    }

    async fn retract(&self, _room: &Room, message: &MessageRef) -> Result<(), PostError> {
        let mut g = self.lock();
        g.posts.retain(|p| &p.message != message);
        Ok(())
    }

    async fn display_name(&self, _room: &Room, person: &PersonRef) -> Option<String> {
        self.lock().names.get(&person.handle).cloned()
    }
}
