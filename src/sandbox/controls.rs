//! Finding a control on a message by what it does (a typed action), not by its label: the
//! words live in `content/` and may change; the actions do not.

use super::fake::FakeMessage;
use crate::domain::custom_id::{Act, CustomId};

pub trait Controls {
    /// The custom id of the first button or menu on the message that does `act`.
    fn control(&self, act: Act) -> Option<String>;
}

impl Controls for FakeMessage {
    fn control(&self, act: Act) -> Option<String> {
        let buttons = self.buttons().into_iter().filter_map(|b| b.custom_id);
        let menus = self.selects().into_iter().map(|s| s.custom_id);
        buttons
            .chain(menus)
            .find(|id| id.parse::<CustomId>().is_ok_and(|c| c.act() == act))
    }
}
