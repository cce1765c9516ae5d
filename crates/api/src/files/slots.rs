//! Uploads in progress, bounded per user, per organization and per server: an upload
//! holds a connection, a chunk of memory and a blob being written for as long as its
//! sender takes, so slow or many senders must not be able to hold them all — nor one
//! tenant's many accounts everyone else's share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

#[derive(Debug)]
pub struct UploadSlots {
    per_user: usize,
    per_org: usize,
    total: usize,
    busy: Mutex<Busy>,
}

#[derive(Debug, Default)]
struct Busy {
    total: usize,
    /// By user id and by organization id (ids never collide).
    by_holder: HashMap<Uuid, usize>,
}

/// Why no slot was free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    /// This user already has `per_user` uploads running.
    User(usize),
    /// The organization already has `per_org` uploads running.
    Org(usize),
    /// The server has `total` uploads running.
    Server(usize),
}

/// A slot held until dropped: the server's and its holder's.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<UploadSlots>,
    holder: Uuid,
    /// Whether it counts in the server's total (a user's slot does; their upload's
    /// organization slot is the same upload).
    counted: bool,
}

impl UploadSlots {
    pub fn new(per_user: usize, per_org: usize, total: usize) -> Arc<Self> {
        Arc::new(UploadSlots {
            per_user,
            per_org,
            total,
            busy: Mutex::new(Busy::default()),
        })
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, Busy> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for one of this user's uploads, counted in the server's total.
    pub fn for_user(self: &Arc<Self>, user: Uuid) -> Result<Slot, Full> {
        self.take(user, self.per_user, Full::User(self.per_user), true)
    }

    /// The organization's slot for an upload that already holds its user's.
    pub fn for_org(self: &Arc<Self>, org: Uuid) -> Result<Slot, Full> {
        self.take(org, self.per_org, Full::Org(self.per_org), false)
    }

    fn take(
        self: &Arc<Self>,
        holder: Uuid,
        limit: usize,
        full: Full,
        counted: bool,
    ) -> Result<Slot, Full> {
        let mut busy = self.busy();
        let held = busy.by_holder.get(&holder).copied().unwrap_or(0);
        if held >= limit {
            return Err(full);
        }
        if counted && busy.total >= self.total {
            return Err(Full::Server(self.total));
        }
        busy.total += usize::from(counted);
        busy.by_holder.insert(holder, held + 1);
        Ok(Slot {
            slots: self.clone(),
            holder,
            counted,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut busy = self.slots.busy();
        busy.total = busy.total.saturating_sub(usize::from(self.counted));
        if let Some(n) = busy.by_holder.get_mut(&self.holder) {
            *n -= 1;
            if *n == 0 {
                busy.by_holder.remove(&self.holder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_per_org_and_in_all_and_come_back() {
        let slots = UploadSlots::new(2, 3, 3);
        let (a, b, org) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let a1 = slots.for_user(a).expect("a1");
        let _a2 = slots.for_user(a).expect("a2");
        assert_eq!(slots.for_user(a).err(), Some(Full::User(2)));
        // An organization's slot is the same upload as its user's: not counted again.
        let o1 = slots.for_org(org).expect("o1");
        let _b1 = slots.for_user(b).expect("b1");
        assert_eq!(slots.for_user(b).err(), Some(Full::Server(3)));
        drop(a1);
        drop(o1);
        let held: Vec<Slot> = (0..3)
            .map(|_| slots.for_org(org).expect("org slot"))
            .collect();
        assert_eq!(slots.for_org(org).err(), Some(Full::Org(3)));
        drop(held);
        assert!(slots.for_org(org).is_ok());
    }
}
