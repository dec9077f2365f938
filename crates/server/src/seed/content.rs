//! The content of the demo's interactions: acquisition and contact-preference weights, and the
//! subjects and texts of leads' contacts, chat questions, complaints, feedback, calls, social
//! mentions and staff notes.

use rapport_domain::customer::{AcquisitionChannel, Channel};
use rapport_domain::interaction::InteractionKind;

pub(super) const ACQUISITION: &[(AcquisitionChannel, f64)] = &[
    (AcquisitionChannel::OrganicSearch, 22.0),
    (AcquisitionChannel::PaidSearch, 14.0),
    (AcquisitionChannel::Social, 16.0),
    (AcquisitionChannel::Referral, 9.0),
    (AcquisitionChannel::Email, 5.0),
    (AcquisitionChannel::Event, 3.0),
    (AcquisitionChannel::InStore, 15.0),
    (AcquisitionChannel::Partner, 3.0),
    (AcquisitionChannel::Advertising, 6.0),
    (AcquisitionChannel::WordOfMouth, 6.0),
    (AcquisitionChannel::Other, 1.0),
];

pub(super) const CONTACT_PREFERENCE: &[(Channel, f64)] = &[
    (Channel::Email, 45.0),
    (Channel::Sms, 15.0),
    (Channel::Phone, 10.0),
    (Channel::Web, 12.0),
    (Channel::Social, 10.0),
    (Channel::InPerson, 5.0),
    (Channel::Chat, 3.0),
];

pub(super) const LEAD_CONTACTS: &[(Channel, InteractionKind, &str, &str)] = &[
    (
        Channel::Chat,
        InteractionKind::Message,
        "Asked about sizes",
        "Wanted to know whether the sizes run small before ordering.",
    ),
    (
        Channel::Chat,
        InteractionKind::Message,
        "Asked about delivery",
        "Asked how long delivery takes and whether returns are free.",
    ),
    (
        Channel::Phone,
        InteractionKind::Call,
        "Called about a product",
        "Asked whether an item is back in stock soon.",
    ),
    (
        Channel::Email,
        InteractionKind::Message,
        "Asked for a quote",
        "Requested a quote for a larger order for the office.",
    ),
    (
        Channel::InPerson,
        InteractionKind::Meeting,
        "Visited the store",
        "Looked at the new collection with a shop assistant.",
    ),
    (
        Channel::Web,
        InteractionKind::Survey,
        "Answered the welcome survey",
        "Interested in seasonal offers and gift ideas.",
    ),
    (
        Channel::Social,
        InteractionKind::Message,
        "Sent a direct message",
        "Asked whether a product seen on Instagram ships abroad.",
    ),
];

pub(super) const CHAT_QUESTIONS: &[&str] = &[
    "Is this available in another colour?",
    "Can I still get it delivered before the weekend?",
    "Do you offer gift wrapping?",
    "Can I pick it up in store?",
];

pub(super) const COMPLAINTS: &[(&str, &str, &str)] = &[
    (
        "Late delivery",
        "The parcel arrived a week late.",
        "Apologised and refunded the shipping cost.",
    ),
    (
        "Damaged item",
        "The item arrived damaged.",
        "Sent a replacement with express delivery.",
    ),
    (
        "Wrong size",
        "Received the wrong size.",
        "Exchanged the item; return label sent.",
    ),
    (
        "Charged twice",
        "The card was charged twice for one order.",
        "Refunded the duplicate charge.",
    ),
    (
        "Missing item",
        "One item was missing from the parcel.",
        "Shipped the missing item at no cost.",
    ),
];

pub(super) const FEEDBACK: &[(&str, &str)] = &[
    ("Great service", "Fast delivery and lovely packaging."),
    (
        "Happy with the purchase",
        "Exactly as described, will buy again.",
    ),
    ("Suggestion", "It would be nice to have more sizes online."),
    ("Gift was a success", "My mother loved it, thank you."),
    (
        "Mixed experience",
        "Good product but the website was slow at checkout.",
    ),
];

pub(super) const CALLS: &[(&str, &str)] = &[
    (
        "Where is my order",
        "Gave the tracking number and delivery estimate.",
    ),
    (
        "Return request",
        "Explained the 30-day return policy and sent a label.",
    ),
    ("Invoice request", "Sent a copy of the invoice by e-mail."),
    (
        "Product care question",
        "Explained how to care for the material.",
    ),
];

pub(super) const MENTIONS: &[&str] = &[
    "Posted a photo of the purchase and tagged the shop.",
    "Recommended the shop to friends in a story.",
    "Complained publicly about the delivery time.",
    "Shared an unboxing video.",
];

pub(super) const NOTES: &[&str] = &[
    "Prefers to be called in the afternoon",
    "Asked not to receive paper catalogues",
    "Updated the delivery address by phone",
    "Interested in the loyalty programme",
];
