export declare const DEV_WEBHOOK_HOSTS: string;
