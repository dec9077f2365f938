//! The demo's service desk: SLA policies, six agents, and support tickets about what demo
//! customers bought.
//!
//! A purchase leads to a ticket with a probability that depends on what was bought (electronics
//! break, shoes get returned, flowers rarely need help), a few days after it. Each ticket then
//! lives through the same store calls the API makes, at the simulated times: opened, answered
//! by its agent hours later (sometimes after its first-response target), sometimes set pending
//! while the customer is asked for something and opened again by the customer's reply, solved
//! days later, sometimes reopened, mostly closed, and rated by about half of the customers (less
//! kindly when the SLA was breached). Anything that would happen after `--until` does not. The
//! SLA clocks, breach flags, events and timeline entries are therefore exactly what live use
//! would have produced; only the ids of tickets' messages and events are not reproducible.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use rapport_domain::auth::{Role, User};
use rapport_domain::conflict::Conflict;
use rapport_domain::customer::Channel;
use rapport_domain::interaction::InteractionKind;
use rapport_domain::sla::{Calendar, OpeningHours, Weekday};
use rapport_domain::ticket::{
    Actor, CsatDraft, MessageDraft, Priority, Product, SlaPolicyDraft, TicketDraft, TicketStatus,
    Visibility,
};
use rapport_store::tickets;
use rapport_store::{DbConn, StoreError, StoreResult};
use serde_json::Map;
use uuid::Uuid;

use super::DemoCustomer;

/// Stream offset of the ticket generator (customers use stream `n`).
const STREAM: u64 = 1 << 40;

/// Per product category (index into `locales::CATEGORIES`): chance that a purchase leads to a
/// ticket, and what such tickets are about.
fn ticket_rate(category: &str) -> f64 {
    match category {
        "electronics" => 0.10,
        "shoes" | "fashion" => 0.04,
        "jewelry" | "home" | "toys" | "sports" => 0.025,
        _ => 0.01,
    }
}

const MODELS: &[&str] = &[
    "Pixel 9",
    "Galaxy S24",
    "iPhone 15",
    "ThinkPad X1 Carbon",
    "MacBook Air M3",
    "Surface Laptop 6",
    "WH-1000XM5",
];

const ELECTRONICS: &[(&str, &str)] = &[
    ("Phone restarts by itself", "hardware"),
    ("Battery drains overnight", "hardware"),
    ("Screen flickers after the update", "software"),
    ("Does not pair over Bluetooth", "software"),
    ("Charger stopped working", "hardware"),
];

const GOODS: &[(&str, &str)] = &[
    ("Wrong size delivered", "returns"),
    ("Parcel not delivered", "shipping"),
    ("Item arrived damaged", "returns"),
    ("Refund not received", "billing"),
    ("Invoice shows the wrong address", "billing"),
];

const AGENTS: &[(&str, &str)] = &[
    ("Lucía Herrera", "lucia.herrera"),
    ("Marco Bianchi", "marco.bianchi"),
    ("Aisha Okafor", "aisha.okafor"),
    ("Tom Becker", "tom.becker"),
    ("Inès Moreau", "ines.moreau"),
    ("Kenji Sato", "kenji.sato"),
];

/// The demo desk: its agents and the generator's settings.
pub struct Desk {
    seed: u64,
    until: DateTime<Utc>,
    agents: Vec<Uuid>,
}

fn weekdays() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

fn desk_calendar() -> Calendar {
    Calendar {
        time_zone: "Europe/Madrid".into(),
        hours: vec![
            OpeningHours {
                days: weekdays(),
                open: "08:00".into(),
                close: "20:00".into(),
            },
            OpeningHours {
                days: vec![Weekday::Sat],
                open: "09:00".into(),
                close: "14:00".into(),
            },
        ],
        holidays: Vec::new(),
    }
}

impl Desk {
    /// Puts the SLA policies in place when there are none, and the agents when they are missing.
    pub fn prepare(conn: &mut DbConn, seed: u64, until: DateTime<Utc>) -> Result<Self, StoreError> {
        if tickets::policies(conn)?.is_empty() {
            let policies = [
                ("Urgent, business hours", Priority::Urgent, 60, 8 * 60, true),
                (
                    "High, business hours",
                    Priority::High,
                    4 * 60,
                    24 * 60,
                    true,
                ),
                ("Normal", Priority::Normal, 8 * 60, 3 * 24 * 60, false),
                ("Low", Priority::Low, 24 * 60, 7 * 24 * 60, false),
            ];
            for (name, priority, first, resolution, business) in policies {
                let draft = SlaPolicyDraft {
                    name: name.into(),
                    priority,
                    category: None,
                    first_response_minutes: first,
                    resolution_minutes: resolution,
                    calendar: business.then(desk_calendar),
                };
                tickets::create_policy(conn, &draft, until)?;
            }
        }
        let mut agents = Vec::new();
        for (name, login) in AGENTS {
            let email = format!("{login}@demo.rapport.example");
            let id = match rapport_store::users::find_by_email(conn, &email)? {
                Some((user, _)) => user.id,
                None => {
                    let user = User {
                        id: rapport_domain::new_id(),
                        email,
                        name: (*name).into(),
                        role: Role::Agent,
                        created_at: until,
                        updated_at: until,
                        disabled_at: None,
                        version: 1,
                    };
                    // Not an argon2 hash: demo agents cannot sign in until an admin sets a password.
                    rapport_store::users::insert(conn, &user, "!demo")?;
                    user.id
                }
            };
            agents.push(id);
        }
        Ok(Desk {
            seed,
            until,
            agents,
        })
    }

    /// Writes a fresh demo customer's tickets; returns how many.
    pub fn customer(&self, conn: &mut DbConn, d: &DemoCustomer) -> Result<u64, StoreError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(STREAM + d.n);
        let mut written = 0;
        for (purchase_id, p) in &d.interactions {
            if p.kind != InteractionKind::Purchase || written >= 3 {
                continue;
            }
            let category = p.product_category.as_deref().unwrap_or("");
            if !rng.gen_bool(ticket_rate(category)) {
                continue;
            }
            let opened = p.occurred_at + hours(&mut rng, 24.0 * 6.0) + Duration::minutes(5);
            if opened >= self.until {
                continue;
            }
            match self.ticket(conn, &mut rng, d, *purchase_id, category, opened) {
                Ok(()) => written += 1,
                // The generator only makes legal moves; a refusal would be a bug worth seeing.
                Err(StoreError::Conflict(Conflict::Transition(t))) => {
                    return Err(StoreError::Corrupt(format!("demo ticket: {t}")))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    fn ticket(
        &self,
        conn: &mut DbConn,
        rng: &mut ChaCha8Rng,
        d: &DemoCustomer,
        purchase_id: Uuid,
        category: &str,
        opened: DateTime<Utc>,
    ) -> StoreResult<()> {
        let electronics = category == "electronics";
        let (subject, desk_category) = if electronics {
            ELECTRONICS[rng.gen_range(0..ELECTRONICS.len())]
        } else {
            GOODS[rng.gen_range(0..GOODS.len())]
        };
        let priority = match rng.gen_range(0..100) {
            0..=6 => Priority::Urgent,
            7..=24 => Priority::High,
            25..=79 => Priority::Normal,
            _ => Priority::Low,
        };
        let channel = match rng.gen_range(0..100) {
            0..=39 => Channel::Email,
            40..=59 => Channel::Phone,
            60..=84 => Channel::Chat,
            _ => Channel::Web,
        };
        let agent = self.agents[rng.gen_range(0..self.agents.len())];
        let product = Product {
            model: electronics.then(|| MODELS[rng.gen_range(0..MODELS.len())].to_owned()),
            serial: electronics.then(|| format!("SN{:010}", rng.gen_range(0..10_000_000_000_u64))),
            purchased_at: d
                .interactions
                .iter()
                .find(|(id, _)| *id == purchase_id)
                .map(|(_, p)| p.occurred_at),
            purchase_interaction_id: Some(purchase_id),
        };
        let draft = TicketDraft {
            customer_id: d.id,
            subject: subject.into(),
            description: Some(format!(
                "{subject}. Bought {}; order details in the purchase record.",
                if electronics { "a device" } else { "an item" }
            )),
            channel,
            category: Some(desk_category.into()),
            tags: if electronics {
                vec!["warranty".into()]
            } else {
                Vec::new()
            },
            priority,
            status: TicketStatus::New,
            assignee_id: Some(agent),
            product: Some(product),
            custom_fields: Map::new(),
            opened_at: None,
        };
        let customer = Actor::Customer(d.id);
        let staff = Actor::User(agent);
        let t = tickets::insert(conn, &draft, Some(customer), opened)?;
        let id = t.id;

        // The first answer, hours later (urgent ones sooner).
        let speed = match priority {
            Priority::Urgent => 1.0,
            Priority::High => 3.0,
            Priority::Normal => 6.0,
            Priority::Low => 16.0,
        };
        let mut now = opened + hours(rng, speed);
        if now >= self.until {
            return Ok(());
        }
        let say = |body: &str, visibility| MessageDraft {
            body: body.into(),
            visibility,
        };
        tickets::add_message(
            conn,
            id,
            &say(
                "Thanks for getting in touch; we are looking into it.",
                Visibility::Public,
            ),
            Some(staff),
            now,
        )?;
        if rng.gen_bool(0.3) {
            tickets::add_message(
                conn,
                id,
                &say("Checked the order and the warranty.", Visibility::Internal),
                Some(staff),
                now + Duration::minutes(2),
            )?;
        }
        // Sometimes the customer is asked for something first.
        if rng.gen_bool(0.3) {
            now += hours(rng, 1.0);
            if now >= self.until {
                return Ok(());
            }
            set_status(conn, id, TicketStatus::Pending, staff, now)?;
            tickets::add_message(
                conn,
                id,
                &say(
                    "Could you send us a photo and the serial number?",
                    Visibility::Public,
                ),
                Some(staff),
                now,
            )?;
            now += hours(rng, 30.0);
            if now >= self.until {
                return Ok(());
            }
            tickets::add_message(
                conn,
                id,
                &say("Here they are.", Visibility::Public),
                None,
                now,
            )?;
        }
        now += hours(rng, 36.0);
        if now >= self.until {
            return Ok(());
        }
        let solved = set_status(conn, id, TicketStatus::Solved, staff, now)?;
        // A few come back within the day.
        if rng.gen_bool(0.05) {
            now += hours(rng, 8.0);
            if now >= self.until {
                return Ok(());
            }
            set_status(conn, id, TicketStatus::Open, customer, now)?;
            now += hours(rng, 24.0);
            if now >= self.until {
                return Ok(());
            }
            set_status(conn, id, TicketStatus::Solved, staff, now)?;
        }
        let solved_at = now;
        let closed = solved_at + Duration::days(4);
        if rng.gen_bool(0.5) {
            let rated = solved_at + hours(rng, 20.0);
            if rated < self.until && rated < closed {
                let breached = solved.sla.as_ref().is_some_and(|s| s.breached);
                let weights: [u32; 5] = if breached {
                    [12, 16, 24, 28, 20]
                } else {
                    [3, 5, 12, 35, 45]
                };
                let rating = pick(rng, &weights) as i64 + 1;
                let comment = match rating {
                    1 | 2 => Some("Took far too long.".to_owned()),
                    5 => Some("Quick and friendly, thank you!".to_owned()),
                    _ => None,
                };
                tickets::rate(
                    conn,
                    id,
                    &CsatDraft { rating, comment },
                    Some(customer),
                    rated,
                )?;
            }
        }
        if closed < self.until && rng.gen_bool(0.85) {
            set_status(conn, id, TicketStatus::Closed, staff, closed)?;
        }
        Ok(())
    }
}

/// Exponentially distributed hours with the given mean.
fn hours(rng: &mut ChaCha8Rng, mean: f64) -> Duration {
    let h = Exp::new(1.0 / mean).map(|e| e.sample(rng)).unwrap_or(mean);
    Duration::seconds((h * 3600.0) as i64)
}

fn pick(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn set_status(
    conn: &mut DbConn,
    id: Uuid,
    status: TicketStatus,
    actor: Actor,
    now: DateTime<Utc>,
) -> StoreResult<rapport_domain::ticket::Ticket> {
    let current = tickets::get(conn, id, now)?;
    let mut draft = current.draft;
    draft.status = status;
    tickets::update(conn, id, current.version, &draft, Some(actor), now).map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_seed_category_has_a_rate() {
        for (name, _) in super::super::locales::CATEGORIES {
            let r = super::ticket_rate(name);
            assert!(r > 0.0 && r < 0.2, "{name}");
        }
    }
}
