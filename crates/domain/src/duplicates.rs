//! Finding likely duplicate customers: the same e-mail, the same phone, or near-identical names
//! in the same city. Pure: the store hands in the candidates' identifying fields.
//!
//! Names are compared after folding case and accents ("José Núñez" = "jose nunez"), with
//! Jaro-Winkler similarity. Comparing every pair in a city would be quadratic, so names are
//! sorted within each city and each is compared with its next few neighbours (the "sorted
//! neighbourhood" method): near-identical names sort close together.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerDraft;
use utoipa::ToSchema;
use uuid::Uuid;

/// The fields duplicates are found by.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
}

/// Why customers look like one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    SameEmail,
    SamePhone,
    SimilarNameSameCity,
}

/// A group of customers that look like one person.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DuplicateGroup {
    pub reason: DuplicateReason,
    /// What they share: the e-mail, the phone, or the city and the folded name.
    pub key: String,
    /// 1.0 for an identical e-mail or phone; the lowest name similarity in the group otherwise.
    pub score: f64,
    /// Oldest first (ids are time-ordered): the first is the natural survivor.
    pub customer_ids: Vec<Uuid>,
}

/// Names at least this similar (Jaro-Winkler, 0 to 1) are near-identical.
pub const NAME_THRESHOLD: f64 = 0.93;
/// How many following names each name is compared with, within a city.
const WINDOW: usize = 4;

/// Lower case, accents removed, runs of non-letters collapsed to one space.
pub fn fold(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_lowercase();
    ascii
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn full_name(c: &Candidate) -> Option<String> {
    let name = fold(&format!(
        "{} {}",
        c.given_name.as_deref().unwrap_or(""),
        c.family_name.as_deref().unwrap_or("")
    ));
    // A lone given name ("Ana") is too weak to call anyone a duplicate.
    (c.given_name.is_some() && c.family_name.is_some() && !name.is_empty()).then_some(name)
}

/// Every group of likely duplicates, ordered by reason then key.
pub fn find(candidates: &[Candidate]) -> Vec<DuplicateGroup> {
    let mut groups = Vec::new();
    for (reason, key_of) in [
        (
            DuplicateReason::SameEmail,
            (|c: &Candidate| c.email.as_ref().map(|e| e.to_lowercase()))
                as fn(&Candidate) -> Option<String>,
        ),
        (DuplicateReason::SamePhone, |c: &Candidate| c.phone.clone()),
    ] {
        let mut by: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for c in candidates {
            if let Some(k) = key_of(c) {
                by.entry(k).or_default().push(c.id);
            }
        }
        groups.extend(
            by.into_iter()
                .filter(|(_, ids)| ids.len() > 1)
                .map(|(key, mut ids)| {
                    ids.sort();
                    DuplicateGroup {
                        reason,
                        key,
                        score: 1.0,
                        customer_ids: ids,
                    }
                }),
        );
    }
    groups.extend(similar_names(candidates));
    groups.sort_by(|a, b| (a.reason, &a.key).cmp(&(b.reason, &b.key)));
    groups
}

fn similar_names(candidates: &[Candidate]) -> Vec<DuplicateGroup> {
    // (city, name, id), sorted: neighbours in a city have similar names.
    let mut named: Vec<(String, String, Uuid)> = candidates
        .iter()
        .filter_map(|c| {
            let city = fold(c.city.as_deref()?);
            (!city.is_empty()).then_some(())?;
            Some((city, full_name(c)?, c.id))
        })
        .collect();
    named.sort();
    // Union-find over indices, so chains of near-identical names form one group.
    let mut parent: Vec<usize> = (0..named.len()).collect();
    let mut score = vec![1.0_f64; named.len()];
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..named.len() {
        for j in i + 1..(i + 1 + WINDOW).min(named.len()) {
            if named[j].0 != named[i].0 {
                break;
            }
            let s = strsim::jaro_winkler(&named[i].1, &named[j].1);
            if s >= NAME_THRESHOLD {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[b] = a;
                }
                let m = score[a].min(score[b]).min(s);
                score[a] = m;
            }
        }
    }
    let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..named.len() {
        let r = root(&mut parent, i);
        by_root.entry(r).or_default().push(i);
    }
    by_root
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(r, members)| {
            let mut ids: Vec<Uuid> = members.iter().map(|&i| named[i].2).collect();
            ids.sort();
            DuplicateGroup {
                reason: DuplicateReason::SimilarNameSameCity,
                key: format!("{}: {}", named[r].0, named[members[0]].1),
                score: (score[r] * 1000.0).round() / 1000.0,
                customer_ids: ids,
            }
        })
        .collect()
}

/// The record of one merge.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MergeRecord {
    pub id: Uuid,
    pub survivor_id: Uuid,
    /// The id the duplicate had; it now leads to the survivor.
    pub duplicate_id: Uuid,
    /// The duplicate as it was just before the merge.
    #[schema(value_type = Object)]
    pub duplicate: serde_json::Value,
    /// Interactions moved to the survivor.
    pub moved_interactions: i64,
    /// Who merged (`api_key:<id>` or `user:<id>`).
    pub merged_by: Option<String>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub merged_at: DateTime<Utc>,
}

/// What a survivor becomes when it absorbs a duplicate: its blank fields filled from the
/// duplicate, the duplicate's e-mails and phones among its other ones, tags, categories, handles
/// and custom attributes joined (the survivor's win on conflict).
pub fn absorb(survivor: &CustomerDraft, dup: &CustomerDraft) -> CustomerDraft {
    let mut d = survivor.clone();
    macro_rules! fill {
        ($($field:ident).+) => {
            if d.$($field).+.is_none() {
                d.$($field).+ = dup.$($field).+.clone();
            }
        };
    }
    fill!(external_ref);
    fill!(external_ref);
    fill!(given_name);
    fill!(family_name);
    fill!(email);
    fill!(phone);
    fill!(birth_date);
    fill!(acquisition_channel);
    fill!(demographics.occupation);
    fill!(demographics.income_band);
    fill!(demographics.education);
    fill!(demographics.household_size);
    fill!(preferences.language);
    fill!(preferences.currency);
    fill!(preferences.channel);
    if d.address == Default::default() {
        d.address = dup.address.clone();
    }
    // The duplicate's contact points become the survivor's other ones.
    let push = |list: &mut Vec<String>, primary: &Option<String>, v: &str| {
        if primary.as_deref() != Some(v) && !list.iter().any(|x| x == v) && list.len() < 10 {
            list.push(v.to_owned());
        }
    };
    for e in dup.email.iter().chain(&dup.other_emails) {
        push(&mut d.other_emails, &d.email, e);
    }
    for p in dup.phone.iter().chain(&dup.other_phones) {
        push(&mut d.other_phones, &d.phone, p);
    }
    for (k, v) in &dup.social_handles {
        d.social_handles
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for t in &dup.tags {
        if !d.tags.contains(t) && d.tags.len() < 50 {
            d.tags.push(t.clone());
        }
    }
    for c in &dup.preferences.product_categories {
        if !d.preferences.product_categories.contains(c)
            && d.preferences.product_categories.len() < 50
        {
            d.preferences.product_categories.push(c.clone());
        }
    }
    for (k, v) in &dup.custom_attributes {
        d.custom_attributes
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    // The further along of the two lifecycle stages (a customer beats a lead).
    d.lifecycle_stage = d.lifecycle_stage.max_by_progress(dup.lifecycle_stage);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(
        n: u128,
        given: &str,
        family: &str,
        email: Option<&str>,
        phone: Option<&str>,
        city: &str,
    ) -> Candidate {
        Candidate {
            id: Uuid::from_u128(n),
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            email: email.map(Into::into),
            phone: phone.map(Into::into),
            city: Some(city.into()),
        }
    }

    #[test]
    fn same_contact_data_and_similar_names_in_a_city_are_found() {
        let people = [
            c(1, "José", "Núñez", Some("jose@x.es"), None, "Madrid"),
            c(2, "Jose", "Nunez", None, Some("+34600000001"), "madrid"),
            c(
                3,
                "Ana",
                "García",
                Some("JOSE@x.es"),
                Some("+34600000001"),
                "Sevilla",
            ),
            c(4, "Jon", "Nunez", None, None, "Bilbao"),
            c(5, "Jose", "Nunes", None, None, "Madrid"),
            c(6, "Maria", "Lopez", None, None, "Madrid"),
        ];
        let groups = find(&people);
        let summary: Vec<(DuplicateReason, Vec<u128>)> = groups
            .iter()
            .map(|g| {
                (
                    g.reason,
                    g.customer_ids.iter().map(|i| i.as_u128()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (DuplicateReason::SameEmail, vec![1, 3]),
                (DuplicateReason::SamePhone, vec![2, 3]),
                (DuplicateReason::SimilarNameSameCity, vec![1, 2, 5]),
            ]
        );
        assert!(groups[2].score >= NAME_THRESHOLD && groups[2].score < 1.0);
    }

    #[test]
    fn folding_removes_case_accents_and_punctuation() {
        assert_eq!(fold("  Ñoño-Pérez, JR. "), "nono perez jr");
    }
}
