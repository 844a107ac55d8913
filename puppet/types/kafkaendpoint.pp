# @summary An http:// or https:// URL of a RunSingleJob entry point (`kafka.endpoint`).
type Jobrunner::Kafkaendpoint = Pattern[/\Ahttps?:\/\/\S+\z/]
