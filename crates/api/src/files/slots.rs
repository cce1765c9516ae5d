//! Uploads in progress, bounded per user and per server: an upload holds a connection,
//! a chunk of memory and a blob being written for as long as its sender takes, so
//! slow or many senders must not be able to hold them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

#[derive(Debug)]
pub struct UploadSlots {
    per_user: usize,
    total: usize,
    busy: Mutex<Busy>,
}

#[derive(Debug, Default)]
struct Busy {
    total: usize,
    by_user: HashMap<Uuid, usize>,
}

/// Why no slot was free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    /// This user already has `per_user` uploads running.
    User(usize),
    /// The server has `total` uploads running.
    Server(usize),
}

/// A slot held until dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<UploadSlots>,
    user: Uuid,
}

impl UploadSlots {
    pub fn new(per_user: usize, total: usize) -> Arc<Self> {
        Arc::new(UploadSlots {
            per_user,
            total,
            busy: Mutex::new(Busy::default()),
        })
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, Busy> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn take(self: &Arc<Self>, user: Uuid) -> Result<Slot, Full> {
        let mut busy = self.busy();
        let mine = busy.by_user.get(&user).copied().unwrap_or(0);
        if mine >= self.per_user {
            return Err(Full::User(self.per_user));
        }
        if busy.total >= self.total {
            return Err(Full::Server(self.total));
        }
        busy.total += 1;
        busy.by_user.insert(user, mine + 1);
        Ok(Slot {
            slots: self.clone(),
            user,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut busy = self.slots.busy();
        busy.total = busy.total.saturating_sub(1);
        if let Some(n) = busy.by_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                busy.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_in_all_and_come_back() {
        let slots = UploadSlots::new(2, 3);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let a1 = slots.take(a).expect("a1");
        let _a2 = slots.take(a).expect("a2");
        assert_eq!(slots.take(a).err(), Some(Full::User(2)));
        let _b1 = slots.take(b).expect("b1");
        assert_eq!(slots.take(b).err(), Some(Full::Server(3)));
        drop(a1);
        assert!(slots.take(b).is_ok());
    }
}
