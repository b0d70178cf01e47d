//! What a setting is: its name, its default, one line of help, and whether its value is a
//! secret. Every setting is declared with these in [`super::table`].

/// A setting's default, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: unset means off (or "not given").
    None,
    /// A value, read exactly as if it were set.
    Value(&'static str),
    /// What happens when unset, in words (no single value stands for it).
    Described(&'static str),
}

/// A setting's declaration, from which `--help`, `check` and the README's table are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The name, in its documented spelling (any case and `:` for `__` work too).
    pub name: &'static str,
    /// What applies when unset, as `--help` and the README show it.
    pub default: DefaultValue,
    /// One line for `--help`.
    pub help: &'static str,
    /// Its value may hold a secret: `check` never prints it.
    pub secret: bool,
}

impl Setting {
    /// The default as a value, when there is one.
    pub fn default_value(&self) -> Option<&'static str> {
        match self.default {
            DefaultValue::Value(value) => Some(value),
            DefaultValue::None | DefaultValue::Described(_) => None,
        }
    }
}

pub(super) const fn setting(name: &'static str, default: DefaultValue, help: &'static str) -> Setting {
    Setting {
        name,
        default,
        help,
        secret: false,
    }
}

pub(super) const fn secret(name: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        default: DefaultValue::None,
        help,
        secret: true,
    }
}
