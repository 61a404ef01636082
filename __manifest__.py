# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "API Sync",
    "summary": "REST sync API, reliable webhooks and POS connectors (Tactill, HQ)",
    "version": "19.0.1.0.0",
    "category": "Technical",
    "license": "LGPL-3",
    "author": "API Sync contributors",
    "website": "https://github.com/api-sync/api_sync",
    "depends": ["base", "mail", "product", "point_of_sale"],
    "external_dependencies": {
        "python": ["pyjwt", "requests", "marshmallow", "apispec", "openapi-ui-bundles"]
    },
    "data": [
        "security/api_sync_security.xml",
        "security/ir.model.access.csv",
        "security/api_sync_rules.xml",
        "security/api_sync_record_status_security.xml",
        "security/api_sync_connector_security.xml",
        "security/api_sync_hq_security.xml",
        "data/ir_config_parameter_data.xml",
        "data/ir_cron_data.xml",
        "views/api_sync_menus.xml",
        "views/api_sync_overview_views.xml",
        "wizards/api_sync_client_secret_views.xml",
        "views/api_sync_client_views.xml",
        "views/api_sync_session_views.xml",
        "views/api_sync_request_log_views.xml",
        "views/api_sync_webhook_views.xml",
        "views/api_sync_delivery_views.xml",
        "views/api_sync_event_views.xml",
        "views/res_config_settings_views.xml",
        "wizards/api_sync_record_status_views.xml",
        "views/api_sync_tactill_backend_views.xml",
        "views/api_sync_hq_backend_views.xml",
    ],
    "demo": ["demo/api_sync_demo.xml"],
    "assets": {
        "web.assets_backend": [
            "api_sync/static/src/**/*",
        ],
    },
    "application": True,
}
