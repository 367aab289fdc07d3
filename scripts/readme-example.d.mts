export declare function runReadmeExample(packageDir: URL | string): Promise<void>;
