//! The generator: customer `n` and its whole history from the seed, `n` and `--until`.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp1, Gamma};
use rapport_domain::customer::{
    AcquisitionChannel, Address, Channel, CustomerDraft, Demographics, Education, IncomeBand,
    LifecycleStage, Preferences,
};
use rapport_domain::interaction::{Direction, InteractionDraft, InteractionKind};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::calendar::{season_kind, season_of, SeasonKind, SEASON_MAX};
use super::content::{
    ACQUISITION, CALLS, CHAT_QUESTIONS, COMPLAINTS, CONTACT_PREFERENCE, FEEDBACK, LEAD_CONTACTS,
    MENTIONS, NOTES,
};
use super::locales::{self, City, Country, NumberPlacement, PhonePlan, PostalFormat, COUNTRIES};
use super::{ordered_id, DemoCustomer, SOURCE};

/// Years of history before `until`.
const YEARS: i64 = 4;
const DAY_SECS: f64 = 86_400.0;
const WEEK_SECS: f64 = 7.0 * DAY_SECS;

/// The latent classes of buyers: share, purchase rate per week λ ~ Gamma(shape, scale), dropout
/// after each purchase p ~ Beta(a, b).
struct Class {
    name: &'static str,
    share: f64,
    rate: Gamma<f64>,
    dropout: Beta<f64>,
}

/// Deterministic demo data for one seed and end date.
pub struct Generator {
    seed: u64,
    until: DateTime<Utc>,
    pub(super) start: DateTime<Utc>,
    start_day: NaiveDate,
    /// Per country, per day since `start_day`: how much busier than usual.
    season: Vec<Vec<f32>>,
    classes: Vec<Class>,
}

/// Share of customers who never buy.
const NEVER_BUY: f64 = 0.37;

impl Generator {
    pub fn new(seed: u64, until: DateTime<Utc>) -> anyhow::Result<Self> {
        let start = until - chrono::Duration::days(YEARS * 365 + 1);
        let start_day = start.date_naive();
        let days = (until.date_naive() - start_day).num_days() + 1;
        let season = COUNTRIES
            .iter()
            .map(|c| {
                (0..days)
                    .map(|d| season_of(c, start_day + chrono::Duration::days(d)))
                    .collect()
            })
            .collect();
        let class = |name, share, shape, scale, a, b| -> anyhow::Result<Class> {
            Ok(Class {
                name,
                share,
                rate: Gamma::new(shape, scale)?,
                dropout: Beta::new(a, b)?,
            })
        };
        let classes = vec![
            class("one_off", 0.46, 1.0, 0.02, 30.0, 1.0)?,
            class("occasional", 0.34, 2.0, 0.035, 2.0, 5.0)?,
            class("regular", 0.14, 3.0, 0.05, 1.0, 12.0)?,
            class("loyal", 0.06, 4.0, 0.08, 1.0, 50.0)?,
        ];
        Ok(Self {
            seed,
            until,
            start,
            start_day,
            season,
            classes,
        })
    }

    fn season_at(&self, country: usize, t: DateTime<Utc>) -> f32 {
        let day = (t.date_naive() - self.start_day).num_days();
        usize::try_from(day)
            .ok()
            .and_then(|d| self.season[country].get(d))
            .copied()
            .unwrap_or(1.0)
    }

    /// Customer `n` (1-based) and its whole history.
    pub fn customer(&self, n: u64) -> anyhow::Result<DemoCustomer> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(n);
        let ci = pick_weighted(&mut rng, COUNTRIES, |c| c.weight);
        let country = &COUNTRIES[ci];
        let female = rng.gen_bool(0.54);
        let given = pick(&mut rng, if female { country.female } else { country.male });
        let mut family = (*pick(&mut rng, country.family)).to_owned();
        if rng.gen_bool(country.double_family) {
            let second = *pick(&mut rng, country.family);
            if second != family {
                family = format!("{family} {second}");
            }
        }
        let acquisition = pick_weighted(&mut rng, ACQUISITION, |a| a.1);
        let acquisition = ACQUISITION[acquisition].0;

        // Signed up at some point of the window, more of them recently (the shop grows), more
        // in busy seasons.
        let window = (self.until - self.start).num_seconds() as f64;
        let created_at = loop {
            let u: f64 = rng.gen();
            let x = if rng.gen_bool(0.5) { u } else { u.sqrt() };
            let t = self.start + secs(x * window * 0.999);
            if rng.gen::<f32>() * SEASON_MAX < self.season_at(ci, t).max(1.0) {
                break trunc_secs(t);
            }
        };

        let wholesale = rng.gen_bool(0.015);
        let preferred: Vec<usize> = {
            let k = rng.gen_range(1..=3);
            let mut v: Vec<usize> = Vec::with_capacity(k);
            while v.len() < k {
                let c = rng.gen_range(0..locales::CATEGORIES.len());
                if !v.contains(&c) {
                    v.push(c);
                }
            }
            v
        };

        // Purchases.
        let mut purchases: Vec<Purchase> = Vec::new();
        let never = rng.gen_bool(
            if acquisition == AcquisitionChannel::InStore {
                0.15
            } else {
                NEVER_BUY
            } * if wholesale { 0.2 } else { 1.0 },
        );
        let class_ix = pick_weighted(&mut rng, &self.classes, |c| c.share);
        let class = &self.classes[class_ix];
        let rate = (class.rate.sample(&mut rng) * if wholesale { 2.0 } else { 1.0 }).min(3.0);
        let dropout = class.dropout.sample(&mut rng);
        let mean_spend: f64 =
            Gamma::new(3.0, 55.0 / 3.0)?.sample(&mut rng) * if wholesale { 6.0 } else { 1.0 };
        let spend = Gamma::new(4.0, mean_spend.max(1.0) / 4.0)?;
        let store_buyer = acquisition == AcquisitionChannel::InStore || rng.gen_bool(0.2);
        if !never {
            let mut t = if rng.gen_bool(0.7) {
                created_at + secs(rng.gen_range(60.0..7200.0))
            } else {
                created_at + secs(rng.sample::<f64, _>(Exp1) * 30.0 * DAY_SECS)
            };
            while t < self.until {
                let channel = purchase_channel(&mut rng, store_buyer);
                let category = purchase_category(&mut rng, &preferred, season_kind(t, country));
                let base = spend.sample(&mut rng) * locales::CATEGORIES[category].1;
                let amount = price(&mut rng, base, country);
                purchases.push(Purchase {
                    at: t,
                    channel,
                    category,
                    amount,
                    items: 1 + (rng.sample::<f64, _>(Exp1) * 0.8) as i64,
                });
                if rng.gen_bool(dropout.clamp(0.0, 1.0)) {
                    break;
                }
                // The next purchase: a Poisson process at λ·season, by thinning.
                loop {
                    t += secs(
                        rng.sample::<f64, _>(Exp1) / (rate * f64::from(SEASON_MAX)) * WEEK_SECS,
                    );
                    if t >= self.until || rng.gen::<f32>() * SEASON_MAX < self.season_at(ci, t) {
                        break;
                    }
                }
                if purchases.len() >= 2_000 {
                    break;
                }
            }
        }

        // Everything else that happened.
        let has_email = rng.gen_bool(0.92);
        let mut events: Vec<Event> = Vec::new();
        // How they came: a contact worth recording when it was in person or on social media;
        // an account created on the website only sometimes came with a message.
        let signup = match acquisition {
            AcquisitionChannel::InStore => Some((Channel::InPerson, "Signed up in store")),
            AcquisitionChannel::Event => Some((Channel::InPerson, "Met at a trade fair")),
            AcquisitionChannel::Social => Some((Channel::Social, "Signed up through social media")),
            _ if rng.gen_bool(0.2) => Some((Channel::Web, "Sent a message with the sign-up form")),
            _ => None,
        };
        if let Some((channel, subject)) = signup {
            events.push(Event::simple(
                created_at,
                channel,
                InteractionKind::Message,
                Some(Direction::Inbound),
                subject,
                None,
            ));
        }
        if has_email {
            events.push(Event::simple(
                created_at + secs(rng.gen_range(30.0..600.0)),
                Channel::Email,
                InteractionKind::Message,
                Some(Direction::Outbound),
                "Welcome to the shop",
                Some("Thank you for signing up. Your first order ships free."),
            ));
        }
        let mut engaged = false;
        if purchases.is_empty() && rng.gen_bool(0.4) {
            engaged = true;
            let t = created_at + secs(rng.gen_range(0.1..60.0) * DAY_SECS);
            let (channel, kind, subject, body) = pick(&mut rng, LEAD_CONTACTS);
            events.push(Event::simple(
                t,
                *channel,
                *kind,
                Some(Direction::Inbound),
                subject,
                Some(body),
            ));
            if rng.gen_bool(0.5) {
                events.push(Event::simple(
                    t + secs(rng.gen_range(0.5..5.0) * DAY_SECS),
                    Channel::Email,
                    InteractionKind::Message,
                    Some(Direction::Outbound),
                    "Following up on your enquiry",
                    Some("Here is the information you asked for, with a 10 % welcome discount."),
                ));
            }
        }
        for (i, p) in purchases.iter().enumerate() {
            self.around_purchase(&mut rng, &mut events, p, i, n, has_email);
        }
        if wholesale {
            let mut t = created_at + secs(rng.gen_range(10.0..90.0) * DAY_SECS);
            while t < self.until {
                events.push(Event::simple(
                    t,
                    Channel::InPerson,
                    InteractionKind::Meeting,
                    Some(Direction::Outbound),
                    "Quarterly account review",
                    Some("Reviewed orders, delivery times and next season's catalogue."),
                ));
                t += secs(rng.gen_range(80.0..110.0) * DAY_SECS);
            }
        }
        let last_purchase = purchases.last().map(|p| p.at);
        if let Some(last) = last_purchase {
            let lapse = last + secs(rng.gen_range(150.0..240.0) * DAY_SECS);
            if lapse < self.until && rng.gen_bool(0.35) {
                let (channel, kind) = if rng.gen_bool(0.7) && has_email {
                    (Channel::Email, InteractionKind::Message)
                } else {
                    (Channel::Phone, InteractionKind::Call)
                };
                events.push(Event::simple(
                    lapse,
                    channel,
                    kind,
                    Some(Direction::Outbound),
                    "We miss you",
                    Some("It has been a while: here is 15 % off your next order."),
                ));
            }
        }
        if rng.gen_bool(0.03) {
            events.push(Event::simple(
                created_at + secs(rng.gen_range(1.0..400.0) * DAY_SECS),
                Channel::Other,
                InteractionKind::Note,
                None,
                pick::<&str, _>(&mut rng, NOTES),
                None,
            ));
        }

        // The customer.
        let total_spend: f64 =
            purchases.iter().map(|p| p.amount as f64).sum::<f64>() / country.price_factor / 100.0;
        let lifecycle = match last_purchase {
            None if engaged => LifecycleStage::Prospect,
            None => LifecycleStage::Lead,
            Some(last) if self.until - last > chrono::Duration::days(365) => {
                LifecycleStage::Churned
            }
            Some(_) => LifecycleStage::Customer,
        };
        let mut tags = Vec::new();
        if purchases.len() >= 12 || total_spend >= 2_000.0 {
            tags.push("vip".to_owned());
        }
        if has_email && rng.gen_bool(0.4) {
            tags.push("newsletter".to_owned());
        }
        if wholesale {
            tags.push("wholesale".to_owned());
        }
        if purchases
            .iter()
            .any(|p| season_kind(p.at, country) == SeasonKind::MothersDay)
        {
            tags.push("gift-buyer".to_owned());
        }
        let draft = self.customer_draft(
            &mut rng,
            n,
            country,
            female,
            given,
            &family,
            has_email,
            &preferred,
            tags,
            acquisition,
            lifecycle,
            class.name,
        );
        let draft = draft
            .parse()
            .map_err(|e| anyhow::anyhow!("demo customer {n} does not parse: {e}"))?;
        let id_millis = (self.until - chrono::Duration::days(1)).timestamp_millis() as u64;
        let id = ordered_id(id_millis, n, 0, rng.gen());

        // The interactions, in time order, within the window.
        events.retain(|e| e.at < self.until);
        events.sort_by_key(|e| e.at);
        anyhow::ensure!(
            events.len() < 1 << 16,
            "too many interactions for one customer"
        );
        let mut interactions = Vec::with_capacity(events.len());
        for (k, e) in events.into_iter().enumerate() {
            let k = k as u64;
            let ix_id = ordered_id(id_millis, n, k, rng.gen());
            let draft = e
                .into_draft(id, format!("demo-{n}-{}", k + 1), country.currency)
                .parse()
                .map_err(|err| anyhow::anyhow!("demo interaction {n}/{k} does not parse: {err}"))?;
            interactions.push((ix_id, draft));
        }
        Ok(DemoCustomer {
            n,
            id,
            external_ref: format!("demo-{n}"),
            created_at,
            draft: CustomerDraft {
                external_ref: Some(format!("demo-{n}")),
                ..draft
            },
            interactions,
        })
    }

    /// Order confirmation, shipping, survey, complaint, feedback, support around a purchase.
    fn around_purchase(
        &self,
        rng: &mut ChaCha8Rng,
        events: &mut Vec<Event>,
        p: &Purchase,
        i: usize,
        n: u64,
        has_email: bool,
    ) {
        let order = format!("D{n:07}-{:03}", i + 1);
        let category = locales::CATEGORIES[p.category].0;
        if p.channel == Channel::Chat || (p.channel == Channel::Web && rng.gen_bool(0.06)) {
            events.push(Event::simple(
                p.at - secs(rng.gen_range(600.0..86_400.0)),
                Channel::Chat,
                InteractionKind::Message,
                Some(Direction::Inbound),
                "Question before ordering",
                Some(*pick(rng, CHAT_QUESTIONS)),
            ));
        }
        events.push(Event {
            at: p.at,
            channel: p.channel,
            kind: InteractionKind::Purchase,
            direction: Some(Direction::Inbound),
            subject: Some(format!("Order {order}")),
            body: None,
            purchase: Some((p.amount, category, order.clone(), p.items)),
        });
        let remote = p.channel != Channel::InPerson;
        if remote && has_email && rng.gen_bool(0.95) {
            events.push(Event {
                at: p.at + secs(rng.gen_range(20.0..300.0)),
                channel: Channel::Email,
                kind: InteractionKind::Message,
                direction: Some(Direction::Outbound),
                subject: Some(format!("Your order {order} is confirmed")),
                body: Some(format!(
                    "Thank you for your order of {category}. We will let you know when it ships."
                )),
                purchase: None,
            });
        }
        if remote && rng.gen_bool(0.2) {
            events.push(Event {
                at: p.at + secs(rng.gen_range(0.5..3.0) * DAY_SECS),
                channel: Channel::Sms,
                kind: InteractionKind::Message,
                direction: Some(Direction::Outbound),
                subject: Some(format!("Order {order} shipped")),
                body: Some("Your parcel is on its way and arrives in 1-3 working days.".into()),
                purchase: None,
            });
        }
        if has_email && rng.gen_bool(0.10) {
            events.push(Event::simple(
                p.at + secs(rng.gen_range(6.0..9.0) * DAY_SECS),
                Channel::Email,
                InteractionKind::Survey,
                Some(Direction::Outbound),
                "How was your order?",
                Some("Two minutes, five questions: tell us how we did."),
            ));
        }
        if rng.gen_bool(0.04) {
            let at = p.at + secs(rng.gen_range(2.0..12.0) * DAY_SECS);
            let channel = *pick(
                rng,
                &[
                    Channel::Phone,
                    Channel::Email,
                    Channel::Chat,
                    Channel::Social,
                ],
            );
            let (subject, body, resolution) = pick(rng, COMPLAINTS);
            events.push(Event {
                at,
                channel,
                kind: InteractionKind::Complaint,
                direction: Some(Direction::Inbound),
                subject: Some(format!("{subject} ({order})")),
                body: Some((*body).into()),
                purchase: None,
            });
            if rng.gen_bool(0.6) {
                events.push(Event::simple(
                    at + secs(rng.gen_range(0.1..2.0) * DAY_SECS),
                    Channel::Other,
                    InteractionKind::Note,
                    None,
                    "Complaint handled",
                    Some(resolution),
                ));
            }
        } else if rng.gen_bool(0.07) {
            let channel = *pick(rng, &[Channel::Web, Channel::Email, Channel::Web]);
            let (subject, body) = pick(rng, FEEDBACK);
            events.push(Event::simple(
                p.at + secs(rng.gen_range(3.0..20.0) * DAY_SECS),
                channel,
                InteractionKind::Feedback,
                Some(Direction::Inbound),
                subject,
                Some(body),
            ));
        }
        if rng.gen_bool(0.04) {
            let (subject, body) = pick(rng, CALLS);
            events.push(Event::simple(
                p.at + secs(rng.gen_range(1.0..25.0) * DAY_SECS),
                Channel::Phone,
                InteractionKind::Call,
                Some(Direction::Inbound),
                subject,
                Some(body),
            ));
        }
        if rng.gen_bool(0.025) {
            events.push(Event::simple(
                p.at + secs(rng.gen_range(0.5..10.0) * DAY_SECS),
                Channel::Social,
                InteractionKind::SocialMention,
                Some(Direction::Inbound),
                "Mentioned us on social media",
                Some(*pick(rng, MENTIONS)),
            ));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn customer_draft(
        &self,
        rng: &mut ChaCha8Rng,
        n: u64,
        country: &Country,
        female: bool,
        given: &str,
        family: &str,
        has_email: bool,
        preferred: &[usize],
        tags: Vec<String>,
        acquisition: AcquisitionChannel,
        lifecycle: LifecycleStage,
        class: &str,
    ) -> CustomerDraft {
        let g = ascii_fold(given);
        let f = ascii_fold(family.split(' ').next().unwrap_or(family));
        let email = has_email.then(|| {
            let local = match rng.gen_range(0..4) {
                0 => format!("{g}.{f}{n}"),
                1 => format!("{g}{f}{n}"),
                2 => format!("{}{f}{n}", &g[..1.min(g.len())]),
                _ => format!("{f}.{g}{n}"),
            };
            let domain = pick(rng, &["example.com", "example.net", "example.org"]);
            format!("{local}@{domain}")
        });
        let city = pick(rng, country.cities);
        let phone = rng.gen_bool(0.8).then(|| phone(rng, country, city));
        let address = if rng.gen_bool(0.85) {
            Address {
                line1: Some(street(rng, country)),
                line2: rng.gen_bool(0.3).then(|| {
                    pick(rng, country.line2).replace('#', &rng.gen_range(1..=9).to_string())
                }),
                city: Some(city.name.to_owned()),
                region: Some(city.region.to_owned()),
                postal_code: Some(postal_code(rng, country, city)),
                country: Some(country.code.to_owned()),
            }
        } else {
            Address {
                country: Some(country.code.to_owned()),
                ..Address::default()
            }
        };
        let age = loop {
            // Adult-skewed: most customers 25-60, few very young or very old.
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            let age = 43.0 + 14.0 * z;
            if (18.0..85.0).contains(&age) {
                break age;
            }
        };
        let birth_date = rng.gen_bool(0.8).then(|| {
            let year = (self.until.year() - age as i32).clamp(1940, 2006);
            NaiveDate::from_yo_opt(year, rng.gen_range(1..=365)).unwrap_or(NaiveDate::MIN)
        });
        let demographics = if rng.gen_bool(0.7) {
            let (occupation, education, income) = if age < 24.0 && rng.gen_bool(0.6) {
                ("student", 1, 0)
            } else if age > 66.0 && rng.gen_bool(0.8) {
                (
                    "retired",
                    *pick(rng, &[0usize, 1, 2, 3]),
                    *pick(rng, &[1usize, 2, 2, 3]),
                )
            } else {
                let o = pick_weighted(rng, locales::OCCUPATIONS, |o| o.3);
                let (name, edu, inc, _) = locales::OCCUPATIONS[o];
                (name, edu, inc)
            };
            let noise = |rng: &mut ChaCha8Rng, v: usize, max: usize| -> usize {
                match rng.gen_range(0..10) {
                    0 => v.saturating_sub(1),
                    1 => (v + 1).min(max),
                    _ => v,
                }
            };
            let education = noise(rng, education, 5);
            let income = noise(rng, income, 4);
            let household =
                [1, 2, 3, 4, 5, 6][pick_weighted(rng, &[28.0, 33.0, 17.0, 15.0, 5.0, 2.0], |w| *w)];
            Demographics {
                occupation: Some(occupation.to_owned()),
                income_band: IncomeBand::ALL.get(income).copied(),
                education: Education::ALL.get(education).copied(),
                household_size: Some(household),
            }
        } else {
            Demographics::default()
        };
        let channel = CONTACT_PREFERENCE[pick_weighted(rng, CONTACT_PREFERENCE, |c| c.1)].0;
        let mut social_handles = std::collections::BTreeMap::new();
        if rng.gen_bool(0.3) {
            social_handles.insert("instagram".to_owned(), format!("@{g}{f}{}", n % 1000));
        }
        if rng.gen_bool(0.08) {
            social_handles.insert("tiktok".to_owned(), format!("@{g}.{f}"));
        }
        let mut custom_attributes = Map::new();
        custom_attributes.insert("demo_profile".into(), Value::from(class));
        if female && rng.gen_bool(0.5) || !female && rng.gen_bool(0.3) {
            custom_attributes.insert("gift_reminders".into(), Value::from(true));
        }
        CustomerDraft {
            given_name: Some(given.to_owned()),
            family_name: Some(family.to_owned()),
            email,
            phone,
            address,
            birth_date,
            social_handles,
            demographics,
            preferences: Preferences {
                language: Some(country.language.to_owned()),
                currency: Some(country.currency.to_owned()),
                channel: Some(channel),
                product_categories: preferred
                    .iter()
                    .map(|c| locales::CATEGORIES[*c].0.to_owned())
                    .collect(),
            },
            tags,
            custom_attributes,
            acquisition_channel: Some(acquisition),
            lifecycle_stage: lifecycle,
            ..CustomerDraft::default()
        }
    }
}

struct Purchase {
    at: DateTime<Utc>,
    channel: Channel,
    category: usize,
    amount: i64,
    items: i64,
}

struct Event {
    at: DateTime<Utc>,
    channel: Channel,
    kind: InteractionKind,
    direction: Option<Direction>,
    subject: Option<String>,
    body: Option<String>,
    /// amount, category, order, items
    purchase: Option<(i64, &'static str, String, i64)>,
}

impl Event {
    fn simple(
        at: DateTime<Utc>,
        channel: Channel,
        kind: InteractionKind,
        direction: Option<Direction>,
        subject: &str,
        body: Option<&str>,
    ) -> Self {
        Self {
            at,
            channel,
            kind,
            direction,
            subject: Some(subject.to_owned()),
            body: body.map(str::to_owned),
            purchase: None,
        }
    }

    fn into_draft(
        self,
        customer_id: Uuid,
        external_ref: String,
        currency: &str,
    ) -> InteractionDraft {
        let mut metadata = Map::new();
        let (amount_minor, currency, product_category, order_ref) = match self.purchase {
            Some((amount, category, order, items)) => {
                metadata.insert("items".into(), Value::from(items));
                (
                    Some(amount),
                    Some(currency.to_owned()),
                    Some(category.to_owned()),
                    Some(order),
                )
            }
            None => (None, None, None, None),
        };
        InteractionDraft {
            customer_id,
            channel: self.channel,
            kind: self.kind,
            direction: self.direction,
            occurred_at: self.at,
            subject: self.subject,
            body: self.body,
            source: Some(SOURCE.to_owned()),
            external_ref: Some(external_ref),
            metadata,
            currency,
            amount_minor,
            product_category,
            campaign_id: None,
            order_ref,
        }
    }
}

fn secs(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s * 1000.0) as i64)
}

fn trunc_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp(), 0).single().unwrap_or(t)
}

fn pick<'a, T, R: Rng>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn pick_weighted<T, R: Rng>(rng: &mut R, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.gen::<f64>() * total;
    for (i, item) in items.iter().enumerate() {
        x -= weight(item);
        if x < 0.0 {
            return i;
        }
    }
    items.len() - 1
}

/// Lower-case ASCII for e-mail addresses: accents dropped, other characters removed.
fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' => out.push('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => out.push('o'),
            'ú' | 'ù' | 'û' | 'ü' => out.push('u'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            'ß' => out.push_str("ss"),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

fn digits<R: Rng>(rng: &mut R, out: &mut String, count: usize) {
    for _ in 0..count {
        out.push(char::from(b'0' + rng.gen_range(0..10u8)));
    }
}

fn phone<R: Rng>(rng: &mut R, country: &Country, city: &City) -> String {
    let mut number = format!("+{}", country.dial);
    let (head, len) = match country.phone {
        PhonePlan::Mobile { prefixes, len } => (pick(rng, prefixes).to_string(), len),
        PhonePlan::Area { before, after, len } => {
            number.push_str(before);
            (format!("{}{after}", city.area), len)
        }
    };
    number.push_str(&head);
    // The first subscriber digit is never 0 or 1.
    number.push(char::from(b'0' + rng.gen_range(2..10u8)));
    digits(rng, &mut number, len.saturating_sub(head.len() + 1));
    number
}

fn postal_code<R: Rng>(rng: &mut R, country: &Country, city: &City) -> String {
    let prefix = *pick(rng, city.postal);
    let mut code = prefix.to_owned();
    let letters = |rng: &mut R, code: &mut String, count: usize| {
        const L: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
        for _ in 0..count {
            code.push(char::from(L[rng.gen_range(0..L.len())]));
        }
    };
    match country.postal {
        PostalFormat::Digits(len) => digits(rng, &mut code, len.saturating_sub(prefix.len())),
        PostalFormat::Portugal => {
            digits(rng, &mut code, 4usize.saturating_sub(prefix.len()));
            code.push('-');
            digits(rng, &mut code, 3);
        }
        PostalFormat::Brazil => {
            digits(rng, &mut code, 5usize.saturating_sub(prefix.len()));
            code.push('-');
            digits(rng, &mut code, 3);
        }
        PostalFormat::Uk => {
            code.push(' ');
            digits(rng, &mut code, 1);
            letters(rng, &mut code, 2);
        }
        PostalFormat::Argentina => {
            digits(rng, &mut code, 5usize.saturating_sub(prefix.len()));
            letters(rng, &mut code, 3);
        }
    }
    code
}

fn street<R: Rng>(rng: &mut R, country: &Country) -> String {
    let name = pick(rng, country.streets);
    let number = if rng.gen_bool(0.7) {
        rng.gen_range(1..60)
    } else {
        rng.gen_range(60..2_000)
    };
    match country.number_placement {
        NumberPlacement::After => format!("{name} {number}"),
        NumberPlacement::AfterComma => format!("{name}, {number}"),
        NumberPlacement::Before => format!("{number} {name}"),
    }
}

/// A shelf price in minor units near `base` euros, in the country's currency.
fn price<R: Rng>(rng: &mut R, base: f64, country: &Country) -> i64 {
    let minor = (base.max(2.0) * country.price_factor * 100.0) as i64;
    let step = country.price_step.max(1);
    let mut amount = (minor / step).max(1) * step;
    // Charm pricing: many prices end in .99 or .95 in the currencies with cents.
    if step < 100 && amount > 1_000 && rng.gen_bool(0.5) {
        amount = (amount / 100) * 100 + if rng.gen_bool(0.7) { 99 } else { 95 };
    }
    amount
}

fn purchase_channel<R: Rng>(rng: &mut R, store_buyer: bool) -> Channel {
    let table: &[(Channel, f64)] = if store_buyer {
        &[
            (Channel::InPerson, 60.0),
            (Channel::Web, 32.0),
            (Channel::Phone, 4.0),
            (Channel::Chat, 2.0),
            (Channel::Social, 2.0),
        ]
    } else {
        &[
            (Channel::Web, 78.0),
            (Channel::InPerson, 8.0),
            (Channel::Phone, 5.0),
            (Channel::Chat, 3.0),
            (Channel::Social, 4.0),
            (Channel::Other, 2.0),
        ]
    };
    table[pick_weighted(rng, table, |c| c.1)].0
}

fn purchase_category<R: Rng>(rng: &mut R, preferred: &[usize], season: SeasonKind) -> usize {
    let gifts: &[usize] = match season {
        SeasonKind::MothersDay => locales::MOTHERS_DAY_GIFTS,
        SeasonKind::BlackFriday => locales::BLACK_FRIDAY_BUYS,
        SeasonKind::Christmas => locales::CHRISTMAS_GIFTS,
        SeasonKind::Normal => &[],
    };
    if !gifts.is_empty() && rng.gen_bool(0.6) {
        *pick(rng, gifts)
    } else if !preferred.is_empty() && rng.gen_bool(0.7) {
        *pick(rng, preferred)
    } else {
        rng.gen_range(0..locales::CATEGORIES.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use super::*;
    use crate::seed::calendar::mothers_day;
    use crate::seed::parse_until;

    /// Four whole calendar years of history: 2022 to 2025.
    fn until() -> DateTime<Utc> {
        parse_until("2026-01-01").unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = Generator::new(42, until()).unwrap();
        let b = Generator::new(42, until()).unwrap();
        let other = Generator::new(7, until()).unwrap();
        for n in [1, 2, 3, 999, 123_456] {
            let (x, y) = (a.customer(n).unwrap(), b.customer(n).unwrap());
            assert_eq!(x.id, y.id);
            assert_eq!(x.created_at, y.created_at);
            assert_eq!(x.draft, y.draft);
            assert_eq!(x.interactions, y.interactions);
            assert_ne!(x.id, other.customer(n).unwrap().id);
        }
    }
    #[test]
    fn distributions_look_like_a_real_shop() {
        let g = Generator::new(42, until()).unwrap();
        let customers: Vec<DemoCustomer> = (1..=2_000).map(|n| g.customer(n).unwrap()).collect();
        let purchases = |c: &DemoCustomer| {
            c.interactions
                .iter()
                .filter(|(_, i)| i.is_purchase())
                .count()
        };
        let total = customers.len() as f64;
        let never = customers.iter().filter(|c| purchases(c) == 0).count() as f64;
        let once = customers.iter().filter(|c| purchases(c) == 1).count() as f64;
        let loyal = customers.iter().filter(|c| purchases(c) >= 10).count();
        assert!(
            (0.28..=0.42).contains(&(never / total)),
            "never-buyers {never}"
        );
        assert!(
            (0.40..=0.75).contains(&(once / (total - never))),
            "one-off buyers {once} of {}",
            total - never
        );
        assert!(
            loyal >= 40,
            "only {loyal} customers with 10 purchases or more"
        );
        let max = customers.iter().map(purchases).max().unwrap();
        assert!(max >= 30, "the most loyal bought only {max} times");

        // Lifecycle agrees with behaviour.
        for c in &customers {
            let stage = c.draft.lifecycle_stage;
            if purchases(c) == 0 {
                assert!(matches!(
                    stage,
                    LifecycleStage::Lead | LifecycleStage::Prospect
                ));
            } else {
                assert!(matches!(
                    stage,
                    LifecycleStage::Customer | LifecycleStage::Churned
                ));
            }
        }
        let churned = customers
            .iter()
            .filter(|c| c.draft.lifecycle_stage == LifecycleStage::Churned)
            .count();
        assert!(churned > 100, "churned {churned}");

        // Seasonality: the three weeks before Mother's Day, per week, well above the average
        // week of the four years.
        let mut in_window = 0usize;
        let mut all = 0usize;
        for c in &customers {
            let code = c.draft.address.country.as_deref().unwrap();
            let country = COUNTRIES.iter().find(|k| k.code == code).unwrap();
            for (_, i) in c.interactions.iter().filter(|(_, i)| i.is_purchase()) {
                all += 1;
                let day = i.occurred_at.date_naive();
                let md = mothers_day(country.mothers_day, day.year());
                if day < md && (md - day).num_days() <= 21 {
                    in_window += 1;
                }
            }
        }
        let weeks = (until() - g.start).num_days() as f64 / 7.0;
        let ratio = (in_window as f64 / 12.0) / (all as f64 / weeks);
        assert!(
            ratio > 1.6,
            "Mother's Day weeks only {ratio:.2}× the average week"
        );

        // Every channel and kind, every country; drafts are stable under parse.
        let channels: BTreeSet<&str> = customers
            .iter()
            .flat_map(|c| c.interactions.iter().map(|(_, i)| i.channel.as_str()))
            .collect();
        assert_eq!(channels.len(), Channel::ALL.len(), "{channels:?}");
        let kinds: BTreeSet<&str> = customers
            .iter()
            .flat_map(|c| c.interactions.iter().map(|(_, i)| i.kind.as_str()))
            .collect();
        assert_eq!(kinds.len(), InteractionKind::ALL.len(), "{kinds:?}");
        let countries: BTreeSet<&str> = customers
            .iter()
            .filter_map(|c| c.draft.address.country.as_deref())
            .collect();
        assert_eq!(countries.len(), COUNTRIES.len());
        let mut emails = HashSet::new();
        let mut last_id = Uuid::nil();
        for c in &customers {
            assert_eq!(c.draft.clone().parse().unwrap(), c.draft);
            assert_eq!(c.id.get_version_num(), 7);
            if let Some(e) = &c.draft.email {
                assert!(emails.insert(e.clone()), "duplicate e-mail {e}");
            }
            for (id, i) in &c.interactions {
                assert!(*id > last_id, "ids must grow");
                last_id = *id;
                assert_eq!(i.clone().parse().unwrap(), *i);
                assert_eq!(i.customer_id, c.id);
                assert!(i.occurred_at < until());
                if i.is_purchase() {
                    assert_eq!(i.currency, c.draft.preferences.currency);
                }
            }
            let year = c.draft.birth_date.map_or(1980, |d| d.year());
            assert!((1940..=2006).contains(&year));
        }
    }
}
