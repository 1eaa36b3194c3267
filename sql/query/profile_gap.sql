-- Why a customer has no profile (if the customer_profiles asset recorded a reason).
SELECT reason FROM movrec.profile_gaps WHERE customer_id = %(customer_id)s
