-- Back to hyphenated lowercase text ids.
PRAGMA defer_foreign_keys = ON;

UPDATE users SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END;
UPDATE api_keys SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END;
UPDATE refresh_tokens SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    user_id = CASE WHEN typeof(user_id) = 'blob' THEN lower(substr(hex(user_id), 1, 8) || '-' || substr(hex(user_id), 9, 4) || '-' ||
        substr(hex(user_id), 13, 4) || '-' || substr(hex(user_id), 17, 4) || '-' || substr(hex(user_id), 21)) ELSE user_id END,
    family_id = CASE WHEN typeof(family_id) = 'blob' THEN lower(substr(hex(family_id), 1, 8) || '-' || substr(hex(family_id), 9, 4) || '-' ||
        substr(hex(family_id), 13, 4) || '-' || substr(hex(family_id), 17, 4) || '-' || substr(hex(family_id), 21)) ELSE family_id END;
UPDATE customers SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END;
UPDATE customer_tags SET
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END;
UPDATE interactions SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END,
    campaign_id = CASE WHEN typeof(campaign_id) = 'blob' THEN lower(substr(hex(campaign_id), 1, 8) || '-' || substr(hex(campaign_id), 9, 4) || '-' ||
        substr(hex(campaign_id), 13, 4) || '-' || substr(hex(campaign_id), 17, 4) || '-' || substr(hex(campaign_id), 21)) ELSE campaign_id END,
    agent_id = CASE WHEN typeof(agent_id) = 'blob' THEN lower(substr(hex(agent_id), 1, 8) || '-' || substr(hex(agent_id), 9, 4) || '-' ||
        substr(hex(agent_id), 13, 4) || '-' || substr(hex(agent_id), 17, 4) || '-' || substr(hex(agent_id), 21)) ELSE agent_id END;
UPDATE customer_purchase_totals SET
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END;
UPDATE customer_aliases SET
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END;
UPDATE customer_merges SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    survivor_id = CASE WHEN typeof(survivor_id) = 'blob' THEN lower(substr(hex(survivor_id), 1, 8) || '-' || substr(hex(survivor_id), 9, 4) || '-' ||
        substr(hex(survivor_id), 13, 4) || '-' || substr(hex(survivor_id), 17, 4) || '-' || substr(hex(survivor_id), 21)) ELSE survivor_id END,
    duplicate_id = CASE WHEN typeof(duplicate_id) = 'blob' THEN lower(substr(hex(duplicate_id), 1, 8) || '-' || substr(hex(duplicate_id), 9, 4) || '-' ||
        substr(hex(duplicate_id), 13, 4) || '-' || substr(hex(duplicate_id), 17, 4) || '-' || substr(hex(duplicate_id), 21)) ELSE duplicate_id END;
UPDATE loyalty_entries SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END,
    source_id = CASE WHEN typeof(source_id) = 'blob' THEN lower(substr(hex(source_id), 1, 8) || '-' || substr(hex(source_id), 9, 4) || '-' ||
        substr(hex(source_id), 13, 4) || '-' || substr(hex(source_id), 17, 4) || '-' || substr(hex(source_id), 21)) ELSE source_id END,
    reverses_id = CASE WHEN typeof(reverses_id) = 'blob' THEN lower(substr(hex(reverses_id), 1, 8) || '-' || substr(hex(reverses_id), 9, 4) || '-' ||
        substr(hex(reverses_id), 13, 4) || '-' || substr(hex(reverses_id), 17, 4) || '-' || substr(hex(reverses_id), 21)) ELSE reverses_id END;
UPDATE loyalty_lots SET
    entry_id = CASE WHEN typeof(entry_id) = 'blob' THEN lower(substr(hex(entry_id), 1, 8) || '-' || substr(hex(entry_id), 9, 4) || '-' ||
        substr(hex(entry_id), 13, 4) || '-' || substr(hex(entry_id), 17, 4) || '-' || substr(hex(entry_id), 21)) ELSE entry_id END,
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END;
UPDATE loyalty_consumptions SET
    entry_id = CASE WHEN typeof(entry_id) = 'blob' THEN lower(substr(hex(entry_id), 1, 8) || '-' || substr(hex(entry_id), 9, 4) || '-' ||
        substr(hex(entry_id), 13, 4) || '-' || substr(hex(entry_id), 17, 4) || '-' || substr(hex(entry_id), 21)) ELSE entry_id END,
    lot_id = CASE WHEN typeof(lot_id) = 'blob' THEN lower(substr(hex(lot_id), 1, 8) || '-' || substr(hex(lot_id), 9, 4) || '-' ||
        substr(hex(lot_id), 13, 4) || '-' || substr(hex(lot_id), 17, 4) || '-' || substr(hex(lot_id), 21)) ELSE lot_id END;
UPDATE loyalty_rewards SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END;
UPDATE loyalty_redemptions SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END,
    reward_id = CASE WHEN typeof(reward_id) = 'blob' THEN lower(substr(hex(reward_id), 1, 8) || '-' || substr(hex(reward_id), 9, 4) || '-' ||
        substr(hex(reward_id), 13, 4) || '-' || substr(hex(reward_id), 17, 4) || '-' || substr(hex(reward_id), 21)) ELSE reward_id END,
    entry_id = CASE WHEN typeof(entry_id) = 'blob' THEN lower(substr(hex(entry_id), 1, 8) || '-' || substr(hex(entry_id), 9, 4) || '-' ||
        substr(hex(entry_id), 13, 4) || '-' || substr(hex(entry_id), 17, 4) || '-' || substr(hex(entry_id), 21)) ELSE entry_id END,
    cancel_entry_id = CASE WHEN typeof(cancel_entry_id) = 'blob' THEN lower(substr(hex(cancel_entry_id), 1, 8) || '-' || substr(hex(cancel_entry_id), 9, 4) || '-' ||
        substr(hex(cancel_entry_id), 13, 4) || '-' || substr(hex(cancel_entry_id), 17, 4) || '-' || substr(hex(cancel_entry_id), 21)) ELSE cancel_entry_id END;
UPDATE loyalty_reward_codes SET
    redemption_id = CASE WHEN typeof(redemption_id) = 'blob' THEN lower(substr(hex(redemption_id), 1, 8) || '-' || substr(hex(redemption_id), 9, 4) || '-' ||
        substr(hex(redemption_id), 13, 4) || '-' || substr(hex(redemption_id), 17, 4) || '-' || substr(hex(redemption_id), 21)) ELSE redemption_id END;
UPDATE sla_policies SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END;
UPDATE tickets SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END,
    assignee_id = CASE WHEN typeof(assignee_id) = 'blob' THEN lower(substr(hex(assignee_id), 1, 8) || '-' || substr(hex(assignee_id), 9, 4) || '-' ||
        substr(hex(assignee_id), 13, 4) || '-' || substr(hex(assignee_id), 17, 4) || '-' || substr(hex(assignee_id), 21)) ELSE assignee_id END,
    purchase_interaction_id = CASE WHEN typeof(purchase_interaction_id) = 'blob' THEN lower(substr(hex(purchase_interaction_id), 1, 8) || '-' || substr(hex(purchase_interaction_id), 9, 4) || '-' ||
        substr(hex(purchase_interaction_id), 13, 4) || '-' || substr(hex(purchase_interaction_id), 17, 4) || '-' || substr(hex(purchase_interaction_id), 21)) ELSE purchase_interaction_id END,
    created_by_id = CASE WHEN typeof(created_by_id) = 'blob' THEN lower(substr(hex(created_by_id), 1, 8) || '-' || substr(hex(created_by_id), 9, 4) || '-' ||
        substr(hex(created_by_id), 13, 4) || '-' || substr(hex(created_by_id), 17, 4) || '-' || substr(hex(created_by_id), 21)) ELSE created_by_id END;
UPDATE ticket_tags SET
    ticket_id = CASE WHEN typeof(ticket_id) = 'blob' THEN lower(substr(hex(ticket_id), 1, 8) || '-' || substr(hex(ticket_id), 9, 4) || '-' ||
        substr(hex(ticket_id), 13, 4) || '-' || substr(hex(ticket_id), 17, 4) || '-' || substr(hex(ticket_id), 21)) ELSE ticket_id END;
UPDATE ticket_events SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    ticket_id = CASE WHEN typeof(ticket_id) = 'blob' THEN lower(substr(hex(ticket_id), 1, 8) || '-' || substr(hex(ticket_id), 9, 4) || '-' ||
        substr(hex(ticket_id), 13, 4) || '-' || substr(hex(ticket_id), 17, 4) || '-' || substr(hex(ticket_id), 21)) ELSE ticket_id END,
    customer_id = CASE WHEN typeof(customer_id) = 'blob' THEN lower(substr(hex(customer_id), 1, 8) || '-' || substr(hex(customer_id), 9, 4) || '-' ||
        substr(hex(customer_id), 13, 4) || '-' || substr(hex(customer_id), 17, 4) || '-' || substr(hex(customer_id), 21)) ELSE customer_id END,
    actor_id = CASE WHEN typeof(actor_id) = 'blob' THEN lower(substr(hex(actor_id), 1, 8) || '-' || substr(hex(actor_id), 9, 4) || '-' ||
        substr(hex(actor_id), 13, 4) || '-' || substr(hex(actor_id), 17, 4) || '-' || substr(hex(actor_id), 21)) ELSE actor_id END;
UPDATE ticket_messages SET
    id = CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' ||
        substr(hex(id), 13, 4) || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END,
    ticket_id = CASE WHEN typeof(ticket_id) = 'blob' THEN lower(substr(hex(ticket_id), 1, 8) || '-' || substr(hex(ticket_id), 9, 4) || '-' ||
        substr(hex(ticket_id), 13, 4) || '-' || substr(hex(ticket_id), 17, 4) || '-' || substr(hex(ticket_id), 21)) ELSE ticket_id END,
    author_id = CASE WHEN typeof(author_id) = 'blob' THEN lower(substr(hex(author_id), 1, 8) || '-' || substr(hex(author_id), 9, 4) || '-' ||
        substr(hex(author_id), 13, 4) || '-' || substr(hex(author_id), 17, 4) || '-' || substr(hex(author_id), 21)) ELSE author_id END;
