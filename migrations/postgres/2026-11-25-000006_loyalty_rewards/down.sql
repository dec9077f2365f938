DROP TABLE loyalty_reward_codes;
DROP TABLE loyalty_redemptions;
DROP TABLE loyalty_rewards;
