/* SQL of the campaign-log feature: schema migration and statements. */
#ifndef BSL_STORE_CAMPAIGN_SQL_H
#define BSL_STORE_CAMPAIGN_SQL_H

#define SQL_MIGRATION_CAMPAIGNS "SELECT 1;"

#endif
