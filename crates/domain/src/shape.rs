//! Bodies whose shape depends on their `kind`: which fields each kind needs and which it may not
//! carry. One table per type serves both the validation (a draft breaking it is refused) and the
//! API document (a `oneOf` per kind, with a discriminator), so the two cannot disagree.

/// What one kind needs (present and not `null`) and forbids (absent or `null`).
#[derive(Debug, Clone, Copy)]
pub struct KindShape {
    pub kind: &'static str,
    pub required: &'static [&'static str],
    pub forbidden: &'static [&'static str],
}

/// The kinds of one body type, named by its schema in the document.
#[derive(Debug, Clone, Copy)]
pub struct KindShapes {
    pub schema: &'static str,
    /// The discriminating field.
    pub tag: &'static str,
    pub kinds: &'static [KindShape],
}

impl KindShapes {
    pub fn of(&self, kind: &str) -> Option<&KindShape> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// Whether a body of `kind` whose fields are `present` fits the shape of its kind.
    pub fn fits(&self, kind: &str, present: impl Fn(&str) -> bool) -> bool {
        self.of(kind).is_some_and(|k| {
            k.required.iter().all(|f| present(f)) && !k.forbidden.iter().any(|f| present(f))
        })
    }
}

/// A body that needs at least one of some fields (present, and not only spaces).
#[derive(Debug, Clone, Copy)]
pub struct AtLeastOne {
    pub schema: &'static str,
    pub fields: &'static [&'static str],
}

impl AtLeastOne {
    pub fn fits(&self, present: impl Fn(&str) -> bool) -> bool {
        self.fields.iter().any(|f| present(f))
    }
}

/// Every at-least-one rule, for the document.
pub const AT_LEAST_ONE: &[&AtLeastOne] = &[&crate::customer::IDENTITY];

/// Every table, for the document.
pub const ALL: &[&KindShapes] = &[
    &crate::loyalty::REWARD_SHAPES,
    &crate::interaction::INTERACTION_SHAPES,
];
